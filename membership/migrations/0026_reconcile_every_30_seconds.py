"""The outbox's reconciler runs every 30 seconds (it ran every minute): with OUTBOX_CONFIRM_SECONDS at a
minute, work a killed worker took is handed over again within two minutes (issue 30). Beat's schedules
live in the database and are created once (core.schedules), so an installed portal keeps its row: this
moves it only while it is still the default of a minute; an interval an operator chose stays."""

from django.db import migrations
from django.utils import timezone

NAME = "outbox: reconcile"


def move(apps, old: int, new: int) -> None:
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    task = PeriodicTask.objects.filter(name=NAME, interval__every=old, interval__period="seconds").first()
    if task is not None:
        task.interval, _ = IntervalSchedule.objects.get_or_create(every=new, period="seconds")
        task.save(update_fields=["interval"])
        # what the real model's signals do: a running beat sees the change and reloads its schedule
        PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def forwards(apps, schema_editor):
    move(apps, 60, 30)


def backwards(apps, schema_editor):
    move(apps, 30, 60)


class Migration(migrations.Migration):
    dependencies = [
        ("membership", "0025_no_transfer_kind"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
