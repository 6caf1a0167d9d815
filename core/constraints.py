"""Migration operations for constraints and indexes added while the previous release still serves."""

from django.db import migrations, models


class AddConstraintNotValid(migrations.AddConstraint):
    """A check constraint that new and changed rows must pass, added without checking the rows already
    there: on PostgreSQL `NOT VALID` (no full-table check under a lock, and an old row that would fail
    does not stop the upgrade; `manage.py check_config` names such rows so HQ mends them). Other
    databases add it as Django does."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if schema_editor.connection.vendor != "postgresql" or not self.allow_migrate_model(
            schema_editor.connection.alias, model
        ):
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        schema_editor.execute(f"{self.constraint.create_sql(model, schema_editor)} NOT VALID")


def in_order(first: str, last: str, *, name: str, message, strict: bool = False) -> models.CheckConstraint:
    """Two optional bounds (dates, times) in order: either empty, or `first` on or before `last`
    (strictly before with `strict`)."""
    compare = f"{first}__lt" if strict else f"{first}__lte"
    return models.CheckConstraint(
        condition=models.Q(**{f"{first}__isnull": True})
        | models.Q(**{f"{last}__isnull": True})
        | models.Q(**{compare: models.F(last)}),
        name=name,
        violation_error_message=message,
    )


class AddIndexConcurrently(migrations.AddIndex):
    """An index built without blocking writes to its table: `CREATE INDEX CONCURRENTLY` on PostgreSQL
    (the migration must be `atomic = False`); other databases build it as Django does."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if schema_editor.connection.vendor != "postgresql" or not self.allow_migrate_model(
            schema_editor.connection.alias, model
        ):
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        schema_editor.add_index(model, self.index, concurrently=True)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if schema_editor.connection.vendor != "postgresql" or not self.allow_migrate_model(
            schema_editor.connection.alias, model
        ):
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        schema_editor.remove_index(model, self.index, concurrently=True)
