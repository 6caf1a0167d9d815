"""Member imports in the background (MemberImportJob, run by the Celery task
membership.tasks.import_members): the job claimed once, its progress written through a second
connection, its reconciliation stored on it. Nothing here queues a task: membership.tasks imports
this package, never the other way round."""

from datetime import timedelta

from django.db import connection, connections

from core.clock import now

from ..models import MemberImportJob
from .importer import import_file


def run_job(job_id: int) -> dict:
    """Run one MemberImportJob: progress on the job as rows are processed, then the reconciliation."""
    job = MemberImportJob.objects.get(pk=job_id)
    # claim the job: of two deliveries (a redelivered or re-queued message) only one starts it
    if not MemberImportJob.objects.filter(pk=job_id, status=MemberImportJob.Status.QUEUED).update(
        status=MemberImportJob.Status.RUNNING
    ):
        return job.result  # it ran (or runs) already
    side = _side_connection()

    def progress(done, total):
        _update_job(side, job_id, rows_done=done, rows_total=total)

    try:
        with job.file.open("rb") as f:
            result = import_file(
                f,
                job.file.name,
                acting_user=job.created_by,
                dry_run=job.dry_run,
                skip_bad_rows=job.skip_bad_rows,
                tier_floor_until=job.tier_floor_until,
                progress=progress,
            )
    except Exception as exc:
        MemberImportJob.objects.filter(pk=job_id).update(
            status=MemberImportJob.Status.FAILED,
            finished_at=now(),
            result={"base_errors": [str(exc)], "table": [], "errors": [], "error_count": 0},
        )
        raise
    finally:
        if side is not connection:
            side.close()
    state = result.as_dict()
    MemberImportJob.objects.filter(pk=job_id).update(
        status=MemberImportJob.Status.DONE,
        finished_at=now(),
        result=state,
        rows_done=result.in_file.rows,
        rows_total=result.in_file.rows,
    )
    return state


def _side_connection():
    """A second connection to the database for progress (PostgreSQL), committed at once; SQLite has one
    writer, so there the progress is written in the import's own connection."""
    if connection.vendor != "postgresql":
        return connection
    return connections.create_connection(connection.alias)


def _update_job(conn, job_id: int, *, rows_done: int, rows_total: int | None) -> None:
    table = conn.ops.quote_name(MemberImportJob._meta.db_table)
    with conn.cursor() as cur:
        cur.execute(
            f"UPDATE {table} SET rows_done = %s, rows_total = %s WHERE id = %s",  # nosec B608
            [rows_done, rows_total, job_id],
        )


def stale_jobs(*, older_than_seconds: int = 60) -> list[int]:
    """Ids of (at most 20) jobs whose start message never reached the broker (it was down when HQ
    started them): they are still "queued" after a minute. tasks.requeue_stale_jobs queues them again;
    a job that does start is claimed once (run_job)."""
    stale = MemberImportJob.objects.filter(
        status=MemberImportJob.Status.QUEUED, created_at__lt=now() - timedelta(seconds=older_than_seconds)
    )
    return list(stale.values_list("pk", flat=True)[:20])
