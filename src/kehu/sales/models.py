"""Sales 销售管理: the record types live in one file per topic, imported here so that Django finds them.

- opportunity_models.py: pipelines, stages, opportunities 商机 (and their stage history)
- lead_models.py: leads 线索 (and what a lead needs: assignment rules, web-to-lead forms)
- commerce_models.py: products, price lists, quotes 报价, orders 订单, payments 回款
- activity_models.py: activities and follow-ups 跟进记录
- forecast_models.py: quotas per rep and period
"""

MODULE = "sales"

from kehu.sales.activity_models import *  # noqa: E402,F403
from kehu.sales.commerce_models import *  # noqa: E402,F403
from kehu.sales.forecast_models import *  # noqa: E402,F403
from kehu.sales.lead_models import *  # noqa: E402,F403
from kehu.sales.opportunity_models import *  # noqa: E402,F403
