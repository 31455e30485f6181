"""Partner agencies. Referrals to them (consent, data minimisation, agency workflow) come with
issue #5; agency users already sign in against these rows."""

from django.db import models


class AgencyKind(models.TextChoices):
    POLICE = "police", "Police"
    HEALTH = "health", "Health"
    SOCIAL_SERVICES = "social_services", "Social services"
    LEGAL_AID = "legal_aid", "Legal aid"
    SHELTER = "shelter", "Shelter"
    ONLINE_ABUSE_HOTLINE = "online_abuse_hotline", "Online-abuse hotline"
    OTHER = "other", "Other"


class Agency(models.Model):
    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.PROTECT, related_name="agencies")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=AgencyKind.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["helpline", "code"]
        verbose_name_plural = "agencies"
        constraints = [
            models.UniqueConstraint(fields=["helpline", "code"], name="agency_unique_code_per_helpline")
        ]

    def __str__(self) -> str:
        return self.name
