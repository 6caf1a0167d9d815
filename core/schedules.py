"""Default Celery beat schedules, kept in the database (django-celery-beat).

Each app registers the periodic tasks it needs from its AppConfig.ready(); after every
`migrate` the missing ones are created. An existing row is never overwritten, so what an
operator changed in admin (time, enabled, arguments) stays as they left it.
"""

from dataclasses import dataclass, field

_REGISTRY: dict[str, "DefaultSchedule"] = {}


@dataclass(frozen=True)
class DefaultSchedule:
    name: str
    task: str
    every_seconds: int | None = None
    crontab: dict = field(default_factory=dict)  # minute, hour, day_of_month, month_of_year, day_of_week
    description: str = ""


def register(
    name: str, task: str, *, every_seconds: int | None = None, crontab: dict | None = None, description: str = ""
) -> None:
    if (every_seconds is None) == (crontab is None):
        raise ValueError("give exactly one of every_seconds and crontab")
    _REGISTRY[name] = DefaultSchedule(name, task, every_seconds, crontab or {}, description)


def registered() -> list[DefaultSchedule]:
    return list(_REGISTRY.values())


def install_default_schedules(**kwargs) -> int:
    """Create the registered periodic tasks that do not exist yet; returns how many were made."""
    from django.conf import settings
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    made = 0
    for item in _REGISTRY.values():
        if PeriodicTask.objects.filter(name=item.name).exists():
            continue
        if item.every_seconds is not None:
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=item.every_seconds, period=IntervalSchedule.SECONDS
            )
            PeriodicTask.objects.create(name=item.name, task=item.task, interval=interval, description=item.description)
        else:
            spec = {
                "minute": "0",
                "hour": "*",
                "day_of_month": "*",
                "month_of_year": "*",
                "day_of_week": "*",
                **item.crontab,
            }
            crontab, _ = CrontabSchedule.objects.get_or_create(timezone=settings.TIME_ZONE, **spec)
            PeriodicTask.objects.create(name=item.name, task=item.task, crontab=crontab, description=item.description)
        made += 1
    return made
