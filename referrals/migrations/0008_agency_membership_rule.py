# The rule the users' old CHECK constraint kept, now across two tables: every user with the agency
# role works for exactly one agency, of their own helpline, and nobody else for any. Deferred to
# commit, so a user and their membership are written in one transaction in either order.

from django.db import migrations

RULE = """
CREATE FUNCTION referrals_agency_membership_rule() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    who bigint;
    user_role text;
    user_helpline bigint;
    agency_helpline bigint;
BEGIN
    IF TG_TABLE_NAME = 'helpline_user' THEN
        who := NEW.id;
    ELSIF TG_OP = 'DELETE' THEN
        who := OLD.user_id;
    ELSE
        who := NEW.user_id;
    END IF;
    SELECT role, helpline_id INTO user_role, user_helpline FROM helpline_user WHERE id = who;
    IF NOT FOUND THEN
        RETURN NULL;  -- the user is gone (their membership went with them)
    END IF;
    SELECT a.helpline_id INTO agency_helpline
      FROM referrals_agencymembership m JOIN referrals_agency a ON a.id = m.agency_id
     WHERE m.user_id = who;
    IF user_role = 'agency' AND NOT FOUND THEN
        RAISE EXCEPTION 'user % has the agency role and works for no agency', who
            USING ERRCODE = 'check_violation', CONSTRAINT = 'agency_user_has_agency';
    ELSIF user_role <> 'agency' AND FOUND THEN
        RAISE EXCEPTION 'user % works for an agency without the agency role', who
            USING ERRCODE = 'check_violation', CONSTRAINT = 'agency_user_has_agency';
    ELSIF FOUND AND agency_helpline IS DISTINCT FROM user_helpline THEN
        RAISE EXCEPTION 'user % works for an agency of another helpline', who
            USING ERRCODE = 'check_violation', CONSTRAINT = 'agency_user_has_agency';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER agency_user_has_agency
    AFTER INSERT OR UPDATE OF role, helpline_id ON helpline_user
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION referrals_agency_membership_rule();
CREATE CONSTRAINT TRIGGER agency_user_has_agency
    AFTER INSERT OR UPDATE OR DELETE ON referrals_agencymembership
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION referrals_agency_membership_rule();
"""

UNDO = """
DROP TRIGGER agency_user_has_agency ON referrals_agencymembership;
DROP TRIGGER agency_user_has_agency ON helpline_user;
DROP FUNCTION referrals_agency_membership_rule();
"""


class Migration(migrations.Migration):

    dependencies = [
        ('helpline', '0007_agency_membership'),
        ('referrals', '0007_agency_membership'),
    ]

    operations = [migrations.RunSQL(RULE, UNDO)]
