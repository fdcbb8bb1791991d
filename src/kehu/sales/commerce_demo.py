"""commerce demo data for `kehu seed_demo` (imported by sales/demo.py): eight products, a price list for
key accounts (tier A), two quotes, and an order from the accepted one with a payment plan, a payment received
and an instalment overdue. Created through the services, so everything is audited and on the timelines.

Idempotent: products are found by SKU, the price list and the quotes by name and title, the order by its
quote; a second run creates nothing. Quotes are made from the customer's opportunity when the opportunities
demo made one, else for the customer directly. Nothing here sends e-mail."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from kehu.core import demo
from kehu.customers.models import Contact, Customer
from kehu.sales import commerce_services as services
from kehu.sales.commerce_models import Instalment, Order, Payment, PriceList, Product, Quote

# (SKU, name, unit, price, tax rate %, description)
PRODUCTS = [
    ("KH-CRM-STD", "客户管理系统 标准版", "套", "19800.00", "13", "含客户、销售、报价与回款管理，50 用户以内。"),
    ("KH-CRM-ENT", "客户管理系统 企业版", "套", "49800.00", "13", "含全部模块、多组织与开放接口。"),
    ("KH-SEAT-Y", "用户许可（年）", "人/年", "1200.00", "6", "按用户按年订阅。"),
    ("KH-IMPL", "实施服务", "人天", "1500.00", "6", "需求调研、配置、数据迁移。"),
    ("KH-TRAIN", "培训服务", "场", "3000.00", "6", "现场或线上培训，每场半天。"),
    ("KH-MAINT", "年度维保服务", "年", "8000.00", "6", "7×12 小时响应，含版本升级。"),
    ("HW-PAD-10", "移动终端（10 英寸平板）", "台", "2999.00", "13", "外勤销售用，预装企业微信与 Kehu。"),
    ("KH-SMS-10K", "短信包（1 万条）", "包", "450.00", "6", "营销与通知短信。"),
]
PRICE_LIST = "A 类客户协议价"
KEY_ACCOUNT_PRICES = {"KH-CRM-STD": "17800.00", "KH-CRM-ENT": "45000.00", "KH-SEAT-Y": "1000.00", "KH-IMPL": "1350.00"}
TERMS = "付款方式：合同签订后支付 40%，上线验收后支付 30%，验收后 30 天内支付余款。\n交付周期：合同签订后 20 个工作日内完成部署。"

# (customer name, title, lines as (SKU, quantity), overall discount %, days ago it was dated, accepted?)
QUOTES = [
    (
        "上海云帆贸易有限公司",
        "云帆贸易 CRM 项目报价",
        [("KH-CRM-STD", "1"), ("KH-SEAT-Y", "30"), ("KH-IMPL", "10"), ("KH-TRAIN", "2")],
        "3",
        20,
        True,
    ),
    (
        "杭州青禾软件科技有限公司",
        "青禾软件 企业版升级报价",
        [("KH-CRM-ENT", "1"), ("KH-MAINT", "1"), ("HW-PAD-10", "5")],
        "0",
        3,
        False,
    ),
]


def _products(ctx: demo.DemoContext) -> dict[str, Product]:
    org = ctx.organization
    products = {p.sku: p for p in Product.objects.filter(organization=org, sku__in=[row[0] for row in PRODUCTS])}
    for sku, name, unit, price, tax_rate, description in PRODUCTS:
        if sku in products:
            continue
        products[sku] = services.product_create(
            actor=ctx.admin,
            sku=sku,
            name=name,
            unit=unit,
            price=Decimal(price),
            currency="CNY",
            tax_rate=Decimal(tax_rate),
            description=description,
        )
        ctx.created(f"product {sku}")
    return products


def _price_list(ctx: demo.DemoContext, products: dict[str, Product]) -> None:
    org = ctx.organization
    price_list = PriceList.objects.filter(organization=org, name=PRICE_LIST).first()
    if price_list is not None:
        return
    if PriceList.objects.filter(organization=org, currency="CNY", tier="A", is_active=True).exists():
        return  # the organisation made its own list for key accounts
    price_list = services.price_list_create(
        actor=ctx.admin, name=PRICE_LIST, currency="CNY", tier="A", description="年度框架协议客户适用。"
    )
    for sku, price in KEY_ACCOUNT_PRICES.items():
        services.price_list_set_price(
            actor=ctx.admin, price_list=price_list, product=products[sku], price=Decimal(price)
        )
    ctx.created(f"price list {PRICE_LIST}")


def _opportunity_of(customer: Customer) -> object | None:
    from kehu.sales.models import Opportunity

    return (
        Opportunity.objects.filter(organization_id=customer.organization_id, customer=customer, deleted_at__isnull=True)
        .order_by("pk")
        .first()
    )


def _quotes(ctx: demo.DemoContext, products: dict[str, Product]) -> None:
    org = ctx.organization
    today = services.organization_today(org)
    for customer_name, title, lines, discount, days_ago, accepted in QUOTES:
        if Quote.objects.filter(organization=org, title=title).exists():
            continue
        customer = Customer.objects.filter(organization=org, name=customer_name, deleted_at__isnull=True).first()
        if customer is None:  # the customers demo did not run, or the customer was removed
            continue
        actor = customer.owner if customer.owner and customer.owner.is_active else ctx.admin
        contact = Contact.objects.filter(organization=org, customer=customer, deleted_at__isnull=True).order_by(
            "-is_primary", "pk"
        )
        opportunity = _opportunity_of(customer)
        quote = services.quote_create(
            actor=actor,
            customer=None if opportunity else customer,
            opportunity=opportunity,
            contact=contact.first() if opportunity is None or not opportunity.contact_id else opportunity.contact,
            title=title,
            currency="CNY",
            discount_percent=Decimal(discount),
            issue_date=today - timedelta(days=days_ago),
            valid_until=today - timedelta(days=days_ago) + timedelta(days=30),
            terms=TERMS,
            lines=[{"product": products[sku], "quantity": Decimal(quantity)} for sku, quantity in lines],
        )
        services.quote_send(actor=actor, quote=quote, email=False)  # handed over in person: no e-mail
        ctx.created(f"quote {quote.number}")
        if accepted:
            services.quote_accept(actor=actor, quote=quote)
            _order(ctx, actor, quote, today)


def _order(ctx: demo.DemoContext, actor: object, quote: Quote, today: object) -> None:
    if Order.objects.filter(organization=ctx.organization, quote=quote).exists():
        return
    order = services.order_create_from_quote(actor=actor, quote=quote, order_date=today - timedelta(days=18))
    services.order_confirm(actor=actor, order=order)
    total = order.total
    first = (total * Decimal("0.4")).quantize(Decimal("0.01"))
    second = (total * Decimal("0.3")).quantize(Decimal("0.01"))
    plan = [
        (today - timedelta(days=15), first, "首付款 40%"),
        (today - timedelta(days=3), second, "上线验收款 30%"),
        (today + timedelta(days=30), total - first - second, "尾款"),
    ]
    for due_date, amount, note in plan:
        services.instalment_create(actor=actor, order=order, due_date=due_date, amount=amount, note=note)
    services.payment_create(
        actor=actor,
        order=order,
        received_on=today - timedelta(days=12),
        amount=first,
        method=Payment.Method.BANK_TRANSFER,
        reference="招商银行 回单 20260512-0831",
        note="首付款",
    )
    ctx.created(f"order {order.number} with {Instalment.objects.filter(order=order).count()} instalments and a payment")


@demo.register(order=24)
def create_demo_commerce(ctx: demo.DemoContext) -> None:
    products = _products(ctx)
    _price_list(ctx, products)
    _quotes(ctx, products)
