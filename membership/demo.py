"""Demo stores and staff accounts (demo-program.md, "Stores and accounts")."""

from .models import Role, Store, User

STORES = [("HQ", "总部", None), ("S001", "旗舰店", "HQ"), ("S002", "社区店", "HQ")]
STAFF = [
    # username, password, role, store, display name
    ("admin", "admin-demo", Role.HQ, None, "总部运营"),
    ("manager1", "manager1-demo", Role.MANAGER, "S001", "王店长"),
    ("clerk1", "clerk1-demo", Role.CLERK, "S001", "李导购"),
    ("clerk2", "clerk2-demo", Role.CLERK, "S002", "赵导购"),
]


def seed_stores_and_staff(*, out=None) -> None:
    stores = {}
    for code, name, parent in STORES:
        stores[code], _ = Store.objects.get_or_create(
            code=code, defaults={"name": name, "parent": stores.get(parent)}
        )
    for username, password, role, store, display in STAFF:
        if User.objects.filter(username=username).exists():
            continue
        user = User(username=username, role=role, store=stores.get(store), first_name=display,
                    is_superuser=username == "admin")
        user.set_password(password)
        user.save()
    if out:
        out.write(f"stores: {Store.objects.count()}, staff: {User.objects.count()}")


def seed(*, out=None) -> None:
    seed_stores_and_staff(out=out)
