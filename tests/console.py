"""Signing people in to the web console in tests (Django's test client, the real sign-in form)."""

from __future__ import annotations

import random

from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from helpline.services import second_factor_required
from tests.factories import PASSWORD


def an_address() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def authenticator(user) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def current_code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


def sign_in(user, *, client: Client | None = None, **client_options) -> Client:
    """A test client signed in to the console as `user` through the sign-in form."""
    # Sign-in is throttled per address in the shared Redis cache (helpline.throttles): each client
    # signs in from an address of its own, so tests never throttle one another.
    client_options.setdefault("REMOTE_ADDR", an_address())
    client = client or Client(**client_options)
    body = {"username": user.username, "password": PASSWORD}
    if second_factor_required(user):
        body["otp"] = current_code(authenticator(user))
    answer = client.post("/console/sign-in/", body)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    return client
