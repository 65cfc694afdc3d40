"""Users, teams and memberships (roles owner/admin/member/viewer)."""
