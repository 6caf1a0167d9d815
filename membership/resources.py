"""Import and export of members and card stock (django-import-export; product.md, "Membership
and cards" and "What bad input gets").

Design: a resource parses a row into arguments and hands them to a service; it never saves a
model itself. A member row goes through `migration.Importer` (the member migration; its
checks use enrolment's phone and birthday rules and cards' Luhn check), a card row through
`cards.add_stock` (the Luhn check is the service's). A service's domain error becomes that row's validation error,
with the service's message, under the column it concerns.

The whole file is one transaction (`use_transactions`). The preview is a dry run that is rolled
back; the confirmed import is rolled back as a whole when any row fails, unless the user chose to
skip bad rows (the admin passes `rollback_on_validation_errors`, see admin.ServiceImportMixin)."""

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets

from core.errors import MembershipError
from core.spreadsheets import MSG_FORMULA, is_formula

from . import migration
from .forms import domain_message
from .models import Card, Member
from .services import cards

MEMBER_IMPORT_COLUMNS = ("phone", "name", "gender", "birthday", "home_store", "marketing_consent", "joined_at")
CARD_IMPORT_COLUMNS = ("number", "batch")


def _text(value) -> str:
    """A cell as text: spreadsheets give numbers (13800138000.0) where CSV gives strings."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _copy_into(saved, instance) -> None:
    """Make the row's instance the object the service wrote, for the preview and the admin log."""
    for field in saved._meta.concrete_fields:
        setattr(instance, field.attname, getattr(saved, field.attname))
    instance._state.adding, instance._state.db = False, saved._state.db
    instance._state.fields_cache = dict(saved._state.fields_cache)


class ServiceRowMixin:
    """Rows are parsed by `parse_row` (shape; raises ValidationError per column) and written by
    `write_row` (a service call; its domain errors become the row's validation errors)."""

    required_columns: tuple = ()
    optional_columns: tuple = ()
    #: service error field → import column
    error_columns: dict = {}

    def import_data(
        self,
        dataset,
        dry_run=False,
        raise_errors=False,
        use_transactions=None,
        collect_failed_rows=False,
        rollback_on_validation_errors=True,
        **kwargs,
    ):
        """As django-import-export's, but a row that fails validation rolls the whole file back unless
        the caller asks otherwise (the library's default keeps the other rows)."""
        return super().import_data(
            dataset,
            dry_run=dry_run,
            raise_errors=raise_errors,
            use_transactions=use_transactions,
            collect_failed_rows=collect_failed_rows,
            rollback_on_validation_errors=rollback_on_validation_errors,
            **kwargs,
        )

    def before_import(self, dataset, **kwargs):
        missing = [column for column in self.required_columns if column not in (dataset.headers or [])]
        if missing:
            raise ValueError(
                _("The file has no column %(columns)s. The first line must name the columns.")
                % {"columns": ", ".join(missing)}
            )

    def import_instance(self, instance, row, **kwargs):
        instance._service_args = self.parse_row(row)

    def save_instance(self, instance, is_create, row, **kwargs):
        try:
            with transaction.atomic():  # a failed row leaves nothing behind, even when bad rows are skipped
                saved = self.write_row(instance._service_args, user=kwargs.get("user"))
        except MembershipError as exc:
            raise ValidationError({self.error_column(exc): [domain_message(exc)]}) from exc
        _copy_into(saved, instance)

    def error_column(self, exc) -> str:
        column = self.error_columns.get(exc.field, exc.field)
        return column if column in self.required_columns + self.optional_columns else NON_FIELD_ERRORS

    def after_import(self, dataset, result, **kwargs):
        """Nothing: the services inserted through the ordinary id sequence. (ModelResource would reset
        the sequence here, which is unsafe while the counters enrol members at the same time.)"""

    def parse_row(self, row) -> dict:
        raise NotImplementedError

    def write_row(self, args: dict, *, user):
        raise NotImplementedError


class MemberResource(ServiceRowMixin, resources.ModelResource):
    """Members from a previous system, with their balances (the columns of migration.COLUMNS:
    phone, name, gender, birthday (YYYY-MM-DD or --MM-DD), home_store (store code),
    marketing_consent, joined_at, and member_no, card_no, points, points_expire_on,
    points_pending_until, growth_value, tier, sv_principal, sv_bonus, referrer_phone, tags,
    consent_at). Rows are checked and written by the membership/migration package, the same
    importer as the `import_members` command and the background import: no welcome scene, no
    notification, entries with source import. A tier in the file is computed from growth here;
    keeping it as a floor needs a date, given in the background import or the command."""

    phone = fields.Field(attribute="phone", column_name="phone")
    name = fields.Field(attribute="name", column_name="name")
    gender = fields.Field(attribute="gender", column_name="gender")
    birthday = fields.Field(attribute="birthday_display", column_name="birthday")
    home_store = fields.Field(attribute="home_store__code", column_name="home_store")
    marketing_consent = fields.Field(
        attribute="marketing_consent", column_name="marketing_consent", widget=widgets.BooleanWidget()
    )
    joined_at = fields.Field(
        attribute="joined_at", column_name="joined_at", widget=widgets.DateTimeWidget(format="%Y-%m-%d %H:%M")
    )
    member_no = fields.Field(attribute="member_no", column_name="member_no")
    points = fields.Field(attribute="points_balance", column_name="points")
    sv_principal = fields.Field(attribute="sv_principal", column_name="sv_principal")
    tier = fields.Field(attribute="tier__code", column_name="tier")

    required_columns = ("phone", "home_store")
    optional_columns = tuple(c for c in migration.COLUMNS if c not in ("phone", "home_store"))

    class Meta:
        model = Member
        name = _("Members from a previous system")
        fields = MEMBER_IMPORT_COLUMNS + ("member_no", "points", "sv_principal", "tier")
        import_order = fields
        import_id_fields = []
        force_init_instance = True  # every row is a new member or new lots; the importer decides
        use_transactions = True
        skip_unchanged = False
        report_skipped = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._importer = None
        self._number = 0

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        self._importer = migration.Importer(acting_user=kwargs.get("user"))
        self._importer.know_phones(migration.phone_or_blank(p) for p in dataset["phone"])
        self._number = 0

    def parse_row(self, row) -> dict:
        self._number += 1
        raw = {column: row.get(column) for column in migration.COLUMNS}
        try:
            return {"row": self._importer.parse(raw, self._number)}
        except migration.RowInvalid as exc:
            raise ValidationError(exc.errors) from exc

    def save_instance(self, instance, is_create, row, **kwargs):
        parsed = instance._service_args["row"]
        valid, errors = self._importer.check([parsed])
        if errors:
            raise ValidationError(errors[parsed.number])
        self._importer.write(valid).flush()
        _copy_into(Member.objects.get(pk=parsed.member_id), instance)


class MemberExportResource(resources.ModelResource):
    member_no = fields.Field(attribute="member_no", column_name="member_no")
    phone = fields.Field(attribute="phone", column_name="phone")
    name = fields.Field(attribute="name", column_name="name")
    tier = fields.Field(attribute="tier__code", column_name="tier")
    home_store = fields.Field(attribute="home_store__code", column_name="home_store")
    points = fields.Field(attribute="points_balance", column_name="points", widget=widgets.IntegerWidget())
    sv = fields.Field(column_name="sv")
    joined_at = fields.Field(
        attribute="joined_at", column_name="joined_at", widget=widgets.DateTimeWidget(format="%Y-%m-%d %H:%M:%S")
    )

    class Meta:
        model = Member
        name = _("Members")
        fields = ("member_no", "phone", "name", "tier", "home_store", "points", "sv", "joined_at")
        export_order = fields

    def get_queryset(self):
        return Member.objects.select_related("tier", "home_store").order_by("pk")

    def dehydrate_sv(self, member):
        """Stored value the member can spend: principal and bonus together."""
        return member.sv_principal + member.sv_bonus


class MemberMigrationExportResource(resources.ModelResource):
    """Members with their balances, open lots and cards in the member import's columns (one more row
    per further lot), so that the file imported into an empty database reproduces every balance
    (migration.export_rows)."""

    class Meta:
        model = Member
        name = _("Members with balances, lots and cards (import columns)")
        fields = ("member_no", "phone")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        for column in migration.COLUMNS:
            self.fields.setdefault(column, fields.Field(attribute=column, column_name=column))

    def get_queryset(self):
        return Member.objects.filter(status=Member.Status.ACTIVE)

    def export(self, queryset=None, **kwargs):
        import tablib

        if queryset is None:
            queryset = self.get_queryset()
        data = tablib.Dataset(headers=list(migration.COLUMNS))
        for row in migration.export_rows(queryset.filter(status=Member.Status.ACTIVE)):
            data.append(row)
        return data


class CardStockResource(ServiceRowMixin, resources.ModelResource):
    """Physical card numbers for the stock: number, batch. Bound later at the counter by scanning."""

    number = fields.Field(attribute="number", column_name="number")
    batch = fields.Field(attribute="batch", column_name="batch")

    required_columns = CARD_IMPORT_COLUMNS
    error_columns = {"card_no": "number"}

    class Meta:
        model = Card
        name = _("Card stock")
        fields = CARD_IMPORT_COLUMNS
        import_order = CARD_IMPORT_COLUMNS
        import_id_fields = []
        force_init_instance = True  # a number already known is the service's error
        use_transactions = True

    def parse_row(self, row) -> dict:
        formulas = {c: [MSG_FORMULA] for c in CARD_IMPORT_COLUMNS if is_formula(row.get(c))}
        if formulas:  # a workbook's formula with no saved result (core.spreadsheets.read_xlsx)
            raise ValidationError(formulas)
        errors, args = {}, {}
        try:
            args["number"] = cards.normalise_number(_text(row.get("number")))
        except MembershipError as exc:
            errors["number"] = [domain_message(exc)]
        batch = _text(row.get("batch"))
        if not batch:
            errors["batch"] = [_("Give the stock batch.")]
        elif len(batch) > Card._meta.get_field("batch").max_length:
            errors["batch"] = [
                _("A batch name is at most %(length)s characters.")
                % {"length": Card._meta.get_field("batch").max_length}
            ]
        args["batch"] = batch
        if errors:
            raise ValidationError(errors)
        return args

    def write_row(self, args, *, user):
        cards.add_stock([args["number"]], batch=args["batch"])
        return Card.objects.get(number=args["number"])


class CardExportResource(resources.ModelResource):
    number = fields.Field(attribute="number", column_name="number")
    kind = fields.Field(attribute="kind", column_name="kind")
    status = fields.Field(attribute="status", column_name="status")
    batch = fields.Field(attribute="batch", column_name="batch")
    member_no = fields.Field(attribute="member__member_no", column_name="member_no")
    bound_at = fields.Field(
        attribute="bound_at", column_name="bound_at", widget=widgets.DateTimeWidget(format="%Y-%m-%d %H:%M:%S")
    )
    blocked_at = fields.Field(
        attribute="blocked_at", column_name="blocked_at", widget=widgets.DateTimeWidget(format="%Y-%m-%d %H:%M:%S")
    )

    class Meta:
        model = Card
        name = _("Cards")
        fields = ("number", "kind", "status", "batch", "member_no", "bound_at", "blocked_at")
        export_order = fields

    def get_queryset(self):
        return Card.objects.select_related("member").order_by("pk")
