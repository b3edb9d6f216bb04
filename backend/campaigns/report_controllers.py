"""HTTP for a campaign's report (its chart on the console): JSON, or CSV from the same path
ending ``.csv``. Whoever may read campaigns: managers and admins."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated

from litestar import Controller, Response, get
from litestar.params import FromPath, QueryParameter

from backend.auth.access import MANAGERS
from backend.campaigns.report import MAX_DAYS, CampaignReport, campaign_csv, campaign_report
from backend.http import csv_download, days_span

First = Annotated[date | None, QueryParameter(name="from", description="first day")]
Last = Annotated[date | None, QueryParameter(name="to", description="last day")]


class CampaignReportController(Controller):
    path = "/v1/admin/campaigns/{campaign_id:uuid}"
    tags = ["campaigns"]

    @get(
        "/report",
        opt=MANAGERS,
        summary="Per day of the campaign's zone: its uses, the points it awarded and the sales "
        f"of the items it promotes (at most {MAX_DAYS} days; default: its run, up to today)",
    )
    async def report(
        self, campaign_id: FromPath[uuid.UUID], first: First = None, last: Last = None
    ) -> CampaignReport:
        return await campaign_report(campaign_id, first=first, last=last, now=datetime.now(UTC))

    @get("/report.csv", opt=MANAGERS, summary="The same, as CSV", media_type="text/csv")
    async def report_csv(
        self, campaign_id: FromPath[uuid.UUID], first: First = None, last: Last = None
    ) -> Response[str]:
        report = await campaign_report(campaign_id, first=first, last=last, now=datetime.now(UTC))
        name = f"campaign-{campaign_id}-{days_span(report.days)}"
        return csv_download(campaign_csv(report), name)
