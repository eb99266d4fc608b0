import datetime

from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from . import common_pb2 as _common_pb2
from . import users_pb2 as _users_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PermissionSourceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PERMISSION_SOURCE_KIND_UNSPECIFIED: _ClassVar[PermissionSourceKind]
    PERMISSION_SOURCE_KIND_DIRECT: _ClassVar[PermissionSourceKind]
    PERMISSION_SOURCE_KIND_ROLE: _ClassVar[PermissionSourceKind]
    PERMISSION_SOURCE_KIND_GROUP: _ClassVar[PermissionSourceKind]
PERMISSION_SOURCE_KIND_UNSPECIFIED: PermissionSourceKind
PERMISSION_SOURCE_KIND_DIRECT: PermissionSourceKind
PERMISSION_SOURCE_KIND_ROLE: PermissionSourceKind
PERMISSION_SOURCE_KIND_GROUP: PermissionSourceKind

class Permission(_message.Message):
    __slots__ = ("name", "description", "built_in")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    BUILT_IN_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    built_in: bool
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., built_in: _Optional[bool] = ...) -> None: ...

class ListPermissionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPermissionsResponse(_message.Message):
    __slots__ = ("permissions", "next_page_token")
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    permissions: _containers.RepeatedCompositeFieldContainer[Permission]
    next_page_token: str
    def __init__(self, permissions: _Optional[_Iterable[_Union[Permission, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreatePermissionRequest(_message.Message):
    __slots__ = ("name", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class DeletePermissionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GrantPermissionRequest(_message.Message):
    __slots__ = ("user_id", "permission")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    permission: str
    def __init__(self, user_id: _Optional[str] = ..., permission: _Optional[str] = ...) -> None: ...

class RevokePermissionRequest(_message.Message):
    __slots__ = ("user_id", "permission")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    permission: str
    def __init__(self, user_id: _Optional[str] = ..., permission: _Optional[str] = ...) -> None: ...

class Role(_message.Message):
    __slots__ = ("id", "name", "description", "permissions", "built_in", "create_time", "update_time", "etag")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    BUILT_IN_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    permissions: _containers.RepeatedScalarFieldContainer[str]
    built_in: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., permissions: _Optional[_Iterable[str]] = ..., built_in: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class CreateRoleRequest(_message.Message):
    __slots__ = ("name", "description", "permissions")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    permissions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., permissions: _Optional[_Iterable[str]] = ...) -> None: ...

class UpdateRoleRequest(_message.Message):
    __slots__ = ("role", "update_mask", "etag")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    role: Role
    update_mask: _field_mask_pb2.FieldMask
    etag: str
    def __init__(self, role: _Optional[_Union[Role, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class DeleteRoleRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListRolesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRolesResponse(_message.Message):
    __slots__ = ("roles", "next_page_token")
    ROLES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    roles: _containers.RepeatedCompositeFieldContainer[Role]
    next_page_token: str
    def __init__(self, roles: _Optional[_Iterable[_Union[Role, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RoleAssignment(_message.Message):
    __slots__ = ("id", "user_id", "group_id", "role_id", "tenant_id", "create_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    user_id: str
    group_id: str
    role_id: str
    tenant_id: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., user_id: _Optional[str] = ..., group_id: _Optional[str] = ..., role_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AssignRoleRequest(_message.Message):
    __slots__ = ("user_id", "group_id", "role_id", "tenant_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    group_id: str
    role_id: str
    tenant_id: str
    def __init__(self, user_id: _Optional[str] = ..., group_id: _Optional[str] = ..., role_id: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class UnassignRoleRequest(_message.Message):
    __slots__ = ("user_id", "group_id", "role_id", "tenant_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    group_id: str
    role_id: str
    tenant_id: str
    def __init__(self, user_id: _Optional[str] = ..., group_id: _Optional[str] = ..., role_id: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class ListRoleAssignmentsRequest(_message.Message):
    __slots__ = ("user_id", "group_id", "role_id", "tenant_id", "page_size", "page_token")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    group_id: str
    role_id: str
    tenant_id: str
    page_size: int
    page_token: str
    def __init__(self, user_id: _Optional[str] = ..., group_id: _Optional[str] = ..., role_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRoleAssignmentsResponse(_message.Message):
    __slots__ = ("role_assignments", "next_page_token")
    ROLE_ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    role_assignments: _containers.RepeatedCompositeFieldContainer[RoleAssignment]
    next_page_token: str
    def __init__(self, role_assignments: _Optional[_Iterable[_Union[RoleAssignment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Tenant(_message.Message):
    __slots__ = ("id", "name", "description", "create_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateTenantRequest(_message.Message):
    __slots__ = ("name", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ListTenantsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTenantsResponse(_message.Message):
    __slots__ = ("tenants", "next_page_token")
    TENANTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenants: _containers.RepeatedCompositeFieldContainer[Tenant]
    next_page_token: str
    def __init__(self, tenants: _Optional[_Iterable[_Union[Tenant, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteTenantRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetEffectivePermissionsRequest(_message.Message):
    __slots__ = ("user_id", "tenant_id", "consistency")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    tenant_id: str
    consistency: _common_pb2.Consistency
    def __init__(self, user_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., consistency: _Optional[_Union[_common_pb2.Consistency, _Mapping]] = ...) -> None: ...

class GetEffectivePermissionsResponse(_message.Message):
    __slots__ = ("user_id", "permissions")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    permissions: _containers.RepeatedCompositeFieldContainer[EffectivePermission]
    def __init__(self, user_id: _Optional[str] = ..., permissions: _Optional[_Iterable[_Union[EffectivePermission, _Mapping]]] = ...) -> None: ...

class EffectivePermission(_message.Message):
    __slots__ = ("permission", "sources")
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    permission: str
    sources: _containers.RepeatedCompositeFieldContainer[PermissionSource]
    def __init__(self, permission: _Optional[str] = ..., sources: _Optional[_Iterable[_Union[PermissionSource, _Mapping]]] = ...) -> None: ...

class PermissionSource(_message.Message):
    __slots__ = ("kind", "role_id", "group_id", "tenant_id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    kind: PermissionSourceKind
    role_id: str
    group_id: str
    tenant_id: str
    def __init__(self, kind: _Optional[_Union[PermissionSourceKind, str]] = ..., role_id: _Optional[str] = ..., group_id: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class CheckPermissionRequest(_message.Message):
    __slots__ = ("user_id", "permission", "tenant_id", "consistency")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    permission: str
    tenant_id: str
    consistency: _common_pb2.Consistency
    def __init__(self, user_id: _Optional[str] = ..., permission: _Optional[str] = ..., tenant_id: _Optional[str] = ..., consistency: _Optional[_Union[_common_pb2.Consistency, _Mapping]] = ...) -> None: ...

class CheckPermissionResponse(_message.Message):
    __slots__ = ("allowed",)
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    def __init__(self, allowed: _Optional[bool] = ...) -> None: ...

class PermissionCheck(_message.Message):
    __slots__ = ("user_id", "permission", "tenant_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    permission: str
    tenant_id: str
    def __init__(self, user_id: _Optional[str] = ..., permission: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class ImpersonationCheck(_message.Message):
    __slots__ = ("platform", "actor", "target", "session_id")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    platform: _common_pb2.Platform
    actor: str
    target: str
    session_id: str
    def __init__(self, platform: _Optional[_Union[_common_pb2.Platform, str]] = ..., actor: _Optional[str] = ..., target: _Optional[str] = ..., session_id: _Optional[str] = ...) -> None: ...

class BatchCheckItem(_message.Message):
    __slots__ = ("permission", "impersonation")
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    IMPERSONATION_FIELD_NUMBER: _ClassVar[int]
    permission: PermissionCheck
    impersonation: ImpersonationCheck
    def __init__(self, permission: _Optional[_Union[PermissionCheck, _Mapping]] = ..., impersonation: _Optional[_Union[ImpersonationCheck, _Mapping]] = ...) -> None: ...

class BatchCheckRequest(_message.Message):
    __slots__ = ("items", "consistency")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[BatchCheckItem]
    consistency: _common_pb2.Consistency
    def __init__(self, items: _Optional[_Iterable[_Union[BatchCheckItem, _Mapping]]] = ..., consistency: _Optional[_Union[_common_pb2.Consistency, _Mapping]] = ...) -> None: ...

class BatchCheckError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class BatchCheckResult(_message.Message):
    __slots__ = ("allowed", "explanation", "reason", "error")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    explanation: str
    reason: _common_pb2.ImpersonationReason
    error: BatchCheckError
    def __init__(self, allowed: _Optional[bool] = ..., explanation: _Optional[str] = ..., reason: _Optional[_Union[_common_pb2.ImpersonationReason, str]] = ..., error: _Optional[_Union[BatchCheckError, _Mapping]] = ...) -> None: ...

class BatchCheckResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BatchCheckResult]
    def __init__(self, results: _Optional[_Iterable[_Union[BatchCheckResult, _Mapping]]] = ...) -> None: ...
