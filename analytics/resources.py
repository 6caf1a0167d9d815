"""Monthly targets in and out of spreadsheets (django-import-export; issue 20): one row per store or
region and month, keyed by the node's code and the month, so importing a sheet again updates the
same targets instead of adding new ones. Rows are validated by the model (full_clean): a bad row is
reported with its field and nothing of a failed file is written."""

from datetime import date, datetime

from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets

from membership.models import Store

from .models import Target


class MonthWidget(widgets.Widget):
    """A month as `2026-03` (also `2026-03-01`, `2026/3`, or a spreadsheet date): kept as its 1st."""

    def clean(self, value, row=None, **kwargs):
        if value in (None, ""):
            return None
        if isinstance(value, datetime):
            return value.date().replace(day=1)
        if isinstance(value, date):
            return value.replace(day=1)
        text = str(value).strip().replace("/", "-")
        parts = text.split("-")
        try:
            year, month = int(parts[0]), int(parts[1])
            return date(year, month, 1)
        except (ValueError, IndexError):
            raise ValueError(_("Enter a month as YYYY-MM, for example 2026-03.")) from None

    def render(self, value, obj=None, **kwargs):
        return f"{value:%Y-%m}" if value else ""


class StoreCodeWidget(widgets.ForeignKeyWidget):
    def clean(self, value, row=None, **kwargs):
        if value in (None, ""):
            return None
        try:
            return super().clean(str(value).strip(), row, **kwargs)
        except Store.DoesNotExist:
            raise ValueError(_("No store or region has the code %(code)s.") % {"code": value}) from None


class TargetResource(resources.ModelResource):
    store = fields.Field(attribute="store", column_name="store", widget=StoreCodeWidget(Store, "code"))
    month = fields.Field(attribute="month", column_name="month", widget=MonthWidget())

    class Meta:
        model = Target
        fields = ("store", "month", "new_members", "member_sales", "repurchase_rate")
        import_id_fields = ("store", "month")
        clean_model_instances = True
        skip_unchanged = True
        use_transactions = True

    def get_instance(self, instance_loader, row):
        """A row whose store or month does not parse has no existing target: it goes on to the field
        checks, which report it under its column."""
        try:
            return super().get_instance(instance_loader, row)
        except ValueError:
            return None
