"""The sale request's fields are copied shallowly per instance (pos.serializers.FieldsCopiedShallow,
issue 17): nothing of one request may reach another, and the declared fields stay unbound."""

from decimal import Decimal

from pos.serializers import SaleRequest


def validate(data):
    request = SaleRequest(data=data)
    return request.is_valid(), request


def test_requests_validated_one_after_another_keep_their_own_values_and_errors():
    ok, first = validate({"receipt_no": "R1", "amount": "10.00", "lines": [{"sku": "A", "amount": "10.00"}]})
    bad, second = validate({"receipt_no": "", "lines": [{"qty": 0, "amount": "-1"}], "pay_points": -5})
    ok_again, third = validate({"receipt_no": "R3", "list_amount": "7.50", "lines": [{"amount": "7.50"}]})
    assert ok and ok_again and not bad
    assert first.validated_data["lines"] == [
        {"sku": "A", "category": "", "qty": 1, "amount": Decimal("10.00"), "discountable": True}
    ]
    assert third.validated_data["amount"] is None and third.validated_data["list_amount"] == Decimal("7.50")
    assert third.validated_data["lines"][0]["sku"] == "" and third.errors == {}
    assert set(second.errors) == {"receipt_no", "lines", "pay_points"}
    assert set(second.errors["lines"][0]) == {"qty", "amount"}
    # the fields of each instance are its own, bound to it; the declared ones stay unbound
    assert first.fields["receipt_no"] is not second.fields["receipt_no"]
    assert first.fields["receipt_no"].parent is first and second.fields["receipt_no"].parent is second
    assert all(field.field_name is None for field in SaleRequest._declared_fields.values())


def test_the_fields_are_the_declared_ones():
    request = SaleRequest(data={})
    assert list(request.fields) == list(SaleRequest._declared_fields)
    for name, field in request.fields.items():
        declared = SaleRequest._declared_fields[name]
        assert type(field) is type(declared) and field.required == declared.required, name
        assert field.validators == declared.validators, name
