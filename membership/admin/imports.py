"""Import and export through the services (the member and card admins' files)."""

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.admin import ImportExportMixin

from core import spreadsheets

from ..forms import ServiceConfirmImportForm, ServiceImportForm
from ..permissions import can_configure


class ServiceImportMixin(spreadsheets.ReadsUploads, ImportExportMixin):
    """django-import-export, with the rows written by services (see resources.py), files read as the
    member migration reads them (core.spreadsheets.ReadsUploads: GBK and UTF-16 CSVs, formulas) and the rule of
    product.md "What bad input gets": a file with a bad row imports nothing, unless the user ticked
    "skip rows with errors", in which case the valid rows are imported and the bad ones reported."""

    import_resource = None
    export_resource = None
    import_help = ""
    import_form_class = ServiceImportForm
    confirm_form_class = ServiceConfirmImportForm
    import_template_name = "admin/membership/import.html"
    export_formats = [spreadsheets.CSV, spreadsheets.XLSX]  # formula cells escaped (core.spreadsheets)

    def get_import_resource_classes(self, request):
        return [self.import_resource]

    def get_import_context_data(self, **kwargs):
        return {**super().get_import_context_data(**kwargs), "import_help": self.import_help}

    extra_export_resources = ()

    def get_export_resource_classes(self, request):
        return [self.export_resource, *self.extra_export_resources]

    def has_import_permission(self, request):
        return can_configure(request.user)

    def has_export_permission(self, request):
        return can_configure(request.user)

    @staticmethod
    def _skips_invalid_rows(form) -> bool:
        return bool(form is not None and getattr(form, "cleaned_data", {}).get("skip_invalid_rows"))

    def get_import_data_kwargs(self, **kwargs):
        form = kwargs.pop("form", None)
        kwargs.pop("request", None)
        # a row that fails validation rolls the whole file back, unless bad rows are to be skipped
        kwargs["rollback_on_validation_errors"] = not self._skips_invalid_rows(form)
        return kwargs

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["skip_invalid_rows"] = self._skips_invalid_rows(import_form)
        return initial

    def import_action(self, request, **kwargs):
        """The upload and preview step (a dry run). Adds the row counts to the page and, when the user
        chose to skip bad rows, offers to confirm a file that has some valid rows."""
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None) or {}
        result = context.get("result")
        if result is not None:
            context["import_summary"] = import_summary(result)
            form = context.get("form")
            if (
                not context.get("confirm_form")
                and self._skips_invalid_rows(form)
                and not result.has_errors()
                and result.has_validation_errors()
                and import_summary(result)["valid"]
            ):
                context["confirm_form"] = self.create_confirm_form(request, import_form=form)
        return response

    def process_dataset(self, dataset, form, request, **kwargs):
        result = super().process_dataset(dataset, form, request, **kwargs)
        result.skipped_invalid_rows = self._skips_invalid_rows(form)
        return result

    def process_result(self, result, request):
        """After the confirmed import: report a rolled-back file as an error and go back to the upload
        page; otherwise the library's summary, plus the rows that were left out."""
        rolled_back = result.has_errors() or (
            result.has_validation_errors() and not getattr(result, "skipped_invalid_rows", False)
        )
        if rolled_back:
            messages.error(request, _("Nothing was imported. %(errors)s") % {"errors": describe_errors(result)})
            return HttpResponseRedirect(
                reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import", current_app=self.admin_site.name)
            )
        response = super().process_result(result, request)
        if result.invalid_rows:
            messages.warning(
                request,
                ngettext(
                    "%(count)d row with errors was left out. %(errors)s",
                    "%(count)d rows with errors were left out. %(errors)s",
                    len(result.invalid_rows),
                )
                % {"count": len(result.invalid_rows), "errors": describe_errors(result)},
            )
        return response


def import_summary(result) -> dict:
    invalid = len(result.invalid_rows) + len(result.row_errors())
    return {"total": result.total_rows, "invalid": invalid, "valid": max(0, result.total_rows - invalid)}


def describe_errors(result, limit: int = 5) -> str:
    """The first few errors of an import, line by line, for a message."""
    lines = [str(error.error) for error in result.base_errors]
    for row in result.invalid_rows:
        text = "; ".join(
            f"{field}: {' '.join(msgs)}" if field != NON_FIELD_ERRORS else " ".join(msgs)
            for field, msgs in row.error_dict.items()
        )
        lines.append(_("row %(row)s: %(errors)s") % {"row": row.number, "errors": text})
    for number, errors in result.row_errors():
        lines.append(_("row %(row)s: %(errors)s") % {"row": number, "errors": " ".join(str(e.error) for e in errors)})
    more = len(lines) - limit
    text = " · ".join(lines[:limit])
    if more > 0:
        text += " " + ngettext("(and %(count)d more)", "(and %(count)d more)", more) % {"count": more}
    return text
