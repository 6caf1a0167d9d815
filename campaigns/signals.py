"""Events campaigns tells other systems about (events.md's catalogue): coupons given and used, points
mall orders placed and handed over. Each is a row of the transactional outbox (`core.outbox`), written
in the transaction of the change by the service that owns it (services/coupons.py, services/mall.py);
`data` is what webhooks and the event feed publish. Registered with the outbox's event-type registry
when this module is imported (CampaignsConfig.ready); no receiver in the portal yet."""

from django.dispatch import Signal

from core import outbox

coupon_issued = Signal()  # event_id, coupon_id, member_id
coupon_redeemed = Signal()  # event_id, coupon_id, member_id
mall_order_placed = Signal()  # event_id, order_id, member_id
mall_order_fulfilled = Signal()  # event_id, order_id, member_id

for _name, _signal in {
    "coupon.issued": coupon_issued,
    "coupon.redeemed": coupon_redeemed,
    "mall.order_placed": mall_order_placed,
    "mall.order_fulfilled": mall_order_fulfilled,
}.items():
    outbox.register_event(_name, _signal)
