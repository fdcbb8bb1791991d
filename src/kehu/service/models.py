"""Customer service 客户服务: the record types live in one file per topic, imported here so that Django
finds them.

- ticket_models.py: queues, tickets 工单 and their conversation
- sla_models.py: business calendars, SLA policies and escalation (topic "sla")
- knowledge_models.py: knowledge base articles and satisfaction surveys (topic "knowledge")
"""

MODULE = "service"

from kehu.service.knowledge_models import *  # noqa: E402,F403  (knowledge base, help centre)
from kehu.service.sla_models import *  # noqa: E402,F403  (topic "sla": calendars, SLA policies, ticket SLA)
from kehu.service.survey_models import *  # noqa: E402,F403  (satisfaction surveys)
from kehu.service.ticket_models import *  # noqa: E402,F403
