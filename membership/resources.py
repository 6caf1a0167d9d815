"""Import and export of members and card stock (django-import-export; product.md, "Membership
and cards" and "What bad input gets").

Design: a resource parses a row into arguments and hands them to a service; it never saves a
model itself. A member row goes through `enrolment.enrol(channel="import")` (phone normalisation,
uniqueness, birthday and name rules are the service's), a card row through `cards.add_stock`
(the Luhn check is the service's). A service's domain error becomes that row's validation error,
with the service's message, under the column it concerns.

The whole file is one transaction (`use_transactions`). The preview is a dry run that is rolled
back; the confirmed import is rolled back as a whole when any row fails, unless the user chose to
skip bad rows (the admin passes `rollback_on_validation_errors`, see admin.ServiceImportMixin)."""

from datetime import date, datetime, time

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets

from .errors import MembershipError
from .forms import domain_message
from .models import Card, Channel, Gender, Member, Store
from .services import cards, enrolment
from .services.common import now

MEMBER_IMPORT_COLUMNS = ("phone", "name", "gender", "birthday", "home_store", "marketing_consent", "joined_at")
CARD_IMPORT_COLUMNS = ("number", "batch")

TRUE_WORDS = {"1", "true", "yes", "y", "是", "同意"}
FALSE_WORDS = {"", "0", "false", "no", "n", "否", "不同意"}
GENDER_WORDS = {"": Gender.UNKNOWN, "u": Gender.UNKNOWN, "f": Gender.FEMALE, "female": Gender.FEMALE,
                "女": Gender.FEMALE, "m": Gender.MALE, "male": Gender.MALE, "男": Gender.MALE}


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

    def import_data(self, dataset, dry_run=False, raise_errors=False, use_transactions=None,
                    collect_failed_rows=False, rollback_on_validation_errors=True, **kwargs):
        """As django-import-export's, but a row that fails validation rolls the whole file back unless
        the caller asks otherwise (the library's default keeps the other rows)."""
        return super().import_data(dataset, dry_run=dry_run, raise_errors=raise_errors,
                                   use_transactions=use_transactions, collect_failed_rows=collect_failed_rows,
                                   rollback_on_validation_errors=rollback_on_validation_errors, **kwargs)

    def before_import(self, dataset, **kwargs):
        missing = [column for column in self.required_columns if column not in (dataset.headers or [])]
        if missing:
            raise ValueError(_("The file has no column %(columns)s. The first line must name the columns.")
                             % {"columns": ", ".join(missing)})

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
    """Members from a previous system: phone, name, gender, birthday (YYYY-MM-DD or --MM-DD),
    home_store (store code), marketing_consent, joined_at (optional). Each row is an enrolment."""

    phone = fields.Field(attribute="phone", column_name="phone")
    name = fields.Field(attribute="name", column_name="name")
    gender = fields.Field(attribute="gender", column_name="gender")
    birthday = fields.Field(attribute="birthday_display", column_name="birthday")
    home_store = fields.Field(attribute="home_store__code", column_name="home_store")
    marketing_consent = fields.Field(attribute="marketing_consent", column_name="marketing_consent",
                                     widget=widgets.BooleanWidget())
    joined_at = fields.Field(attribute="joined_at", column_name="joined_at",
                             widget=widgets.DateTimeWidget(format="%Y-%m-%d %H:%M"))

    required_columns = ("phone", "home_store")
    optional_columns = ("name", "gender", "birthday", "marketing_consent", "joined_at")

    class Meta:
        model = Member
        name = _("Members from a previous system")
        fields = MEMBER_IMPORT_COLUMNS
        import_order = MEMBER_IMPORT_COLUMNS
        import_id_fields = []
        force_init_instance = True  # every row is a new enrolment; a known phone is the service's error
        use_transactions = True
        skip_unchanged = False
        report_skipped = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._stores = {}

    def _store(self, code: str) -> Store | None:
        if code not in self._stores:
            self._stores[code] = Store.objects.filter(code=code).first()
        return self._stores[code]

    def parse_row(self, row) -> dict:
        errors = {}
        args = {"name": _text(row.get("name"))}
        try:  # the service's own parsers, so that every bad column is reported at once
            args["phone"] = enrolment.normalise_phone(_text(row.get("phone")))
        except MembershipError as exc:
            errors["phone"] = [domain_message(exc)]
        try:
            raw = row.get("birthday")
            args["birthday"] = enrolment.Birthday.parse(raw if isinstance(raw, date) else _text(raw))
        except MembershipError as exc:
            errors["birthday"] = [domain_message(exc)]
        gender = _text(row.get("gender"))
        args["gender"] = GENDER_WORDS.get(gender.lower(), gender.upper())  # anything else: the service says so

        code = _text(row.get("home_store"))
        if not code:
            errors["home_store"] = [_("Give the code of the member's home store.")]
        elif (store := self._store(code)) is None:
            errors["home_store"] = [_("No store has the code %(code)s.") % {"code": code}]
        else:
            args["store"] = store

        consent = row.get("marketing_consent")
        consent = consent if isinstance(consent, bool) else _text(consent).lower()
        if consent is True or consent in TRUE_WORDS:
            args["marketing_consent"] = True
        elif consent is False or consent in FALSE_WORDS:
            args["marketing_consent"] = False
        else:
            errors["marketing_consent"] = [_("Enter 1 (yes) or 0 (no).")]

        try:
            args["joined_at"] = self._joined_at(row.get("joined_at"))
        except ValueError as exc:
            errors["joined_at"] = [str(exc)]
        if errors:
            raise ValidationError(errors)
        return args

    @staticmethod
    def _joined_at(value) -> datetime | None:
        if value in (None, ""):
            return None
        if isinstance(value, datetime):
            at = value
        elif isinstance(value, date):
            at = datetime.combine(value, time.min)
        else:
            text = _text(value)
            try:
                at = parse_datetime(text) or (datetime.combine(d, time.min) if (d := parse_date(text)) else None)
            except ValueError:
                at = None
            if at is None:
                raise ValueError(_("Enter the joining time as YYYY-MM-DD or YYYY-MM-DD HH:MM."))
        if timezone.is_naive(at):
            at = timezone.make_aware(at)  # local time (Asia/Shanghai)
        if at > now():
            raise ValueError(_("The joining time cannot be in the future."))
        return at

    def write_row(self, args, *, user):
        return enrolment.enrol(channel=Channel.IMPORT, acting_user=user, **args)


class MemberExportResource(resources.ModelResource):
    member_no = fields.Field(attribute="member_no", column_name="member_no")
    phone = fields.Field(attribute="phone", column_name="phone")
    name = fields.Field(attribute="name", column_name="name")
    tier = fields.Field(attribute="tier__code", column_name="tier")
    home_store = fields.Field(attribute="home_store__code", column_name="home_store")
    points = fields.Field(attribute="points_balance", column_name="points", widget=widgets.IntegerWidget())
    sv = fields.Field(column_name="sv")
    joined_at = fields.Field(attribute="joined_at", column_name="joined_at",
                             widget=widgets.DateTimeWidget(format="%Y-%m-%d %H:%M:%S"))

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
        errors, args = {}, {}
        try:
            args["number"] = cards.normalise_number(_text(row.get("number")))
        except MembershipError as exc:
            errors["number"] = [domain_message(exc)]
        batch = _text(row.get("batch"))
        if not batch:
            errors["batch"] = [_("Give the stock batch.")]
        elif len(batch) > Card._meta.get_field("batch").max_length:
            errors["batch"] = [_("A batch name is at most %(length)s characters.")
                               % {"length": Card._meta.get_field("batch").max_length}]
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
    bound_at = fields.Field(attribute="bound_at", column_name="bound_at",
                            widget=widgets.DateTimeWidget(format="%Y-%m-%d %H:%M:%S"))
    blocked_at = fields.Field(attribute="blocked_at", column_name="blocked_at",
                              widget=widgets.DateTimeWidget(format="%Y-%m-%d %H:%M:%S"))

    class Meta:
        model = Card
        name = _("Cards")
        fields = ("number", "kind", "status", "batch", "member_no", "bound_at", "blocked_at")
        export_order = fields

    def get_queryset(self):
        return Card.objects.select_related("member").order_by("pk")
