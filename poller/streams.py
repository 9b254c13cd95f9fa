"""What the poller knows of each Zoom report API (SPEC sections 2.1, 3.1, 4.1)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReportStream:
    name: str
    # GET <api url><path>
    path: str
    # the key of the record list in a response page
    records_key: str
    # Zoom serves only the last 6 months of these reports: earlier `from` dates are moved up.
    six_months_only: bool
    # the granular scope the report needs (the classic `report:read:admin` covers all three)
    scope: str


STREAMS: dict[str, ReportStream] = {
    "activity": ReportStream(
        "activity", "/v2/report/activities", "activity_logs", True, "report:read:user_activities:admin"
    ),
    "operation": ReportStream(
        "operation", "/v2/report/operationlogs", "operation_logs", True, "report:read:operation_logs:admin"
    ),
    "meeting_activity": ReportStream(
        "meeting_activity",
        "/v2/report/meeting_activities",
        "meeting_activity_logs",
        False,
        "report:read:meeting_activity_log:admin",
    ),
}
CLASSIC_SCOPE = "report:read:admin"
