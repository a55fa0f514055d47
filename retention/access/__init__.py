"""Who may do what, where, and until when: permissions and roles, principals and tokens, grants
with four-eyes approval, the guard every operation passes, the access review, grant expiry.
"""

from __future__ import annotations

from retention.access.authorization import Decision, GrantStatus, GrantView, PrincipalView, decide
from retention.access.expiries import ExpiryCounts, check_expiries
from retention.access.grants import MAX_GRANT_DAYS, insert_grant
from retention.access.guard import (
    Refused,
    access_from_rows,
    authorize,
    check_permission,
    deny,
    guarded,
    load_access,
    require,
    with_access,
)
from retention.access.permissions import Permission, Role
from retention.access.principals import (
    AuthFailure,
    IssuedEnrollment,
    IssuedToken,
    authenticate,
    enroll,
    find_principal_by_name,
    insert_principal,
    record_auth_failures,
    verify_token,
)
from retention.access.review import INSTALLATION, AccessReview, ReviewedGrant, ReviewedPrincipal

__all__ = [
    "INSTALLATION",
    "MAX_GRANT_DAYS",
    "AccessReview",
    "AuthFailure",
    "Decision",
    "ExpiryCounts",
    "GrantStatus",
    "GrantView",
    "IssuedEnrollment",
    "IssuedToken",
    "Permission",
    "PrincipalView",
    "Refused",
    "ReviewedGrant",
    "ReviewedPrincipal",
    "Role",
    "access_from_rows",
    "authenticate",
    "authorize",
    "check_expiries",
    "check_permission",
    "decide",
    "deny",
    "enroll",
    "find_principal_by_name",
    "guarded",
    "insert_grant",
    "insert_principal",
    "load_access",
    "record_auth_failures",
    "require",
    "verify_token",
    "with_access",
]
