"""`manage.py check --deploy` lists the programme's configuration problems (campaigns.services.
config_check) as warnings: they are HQ's to mend in admin and never stop a deploy."""

from django.core.checks import Tags, register
from django.core.checks import Warning as CheckWarning
from django.db.utils import DatabaseError


@register(Tags.models, deploy=True)
def check_programme_configuration(app_configs=None, **kwargs):
    from .services import config_check

    try:
        found = config_check.problems()
    except DatabaseError:  # no tables yet (a first deploy checks before it migrates)
        return []
    return [CheckWarning(f"{p.label}: {p.message}", hint=p.todo, obj=p.obj, id="campaigns.W001") for p in found]
