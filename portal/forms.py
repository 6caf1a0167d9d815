"""Staff sign-in forms: Django's, with the lockout of membership.services.staff_signin (per account
and per address), for the sign-in page and admin's."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from core.errors import MembershipError
from membership.services import staff_signin


class LockoutMixin:
    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = staff_signin.sign_in(self.request, username=username, password=password)
            except MembershipError as exc:
                raise forms.ValidationError(str(exc.message), code=exc.code) from None
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class StaffSignInForm(LockoutMixin, AuthenticationForm):
    pass


class AdminSignInForm(LockoutMixin, AdminAuthenticationForm):
    pass
