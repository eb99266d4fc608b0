import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from . import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Integration(_message.Message):
    __slots__ = ("platform", "enabled", "impersonation_role", "allowed_impersonators", "allowed_impersonator_pattern", "update_time", "etag", "target_group_ids", "impersonation_supported")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    IMPERSONATION_ROLE_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_IMPERSONATORS_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_IMPERSONATOR_PATTERN_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    TARGET_GROUP_IDS_FIELD_NUMBER: _ClassVar[int]
    IMPERSONATION_SUPPORTED_FIELD_NUMBER: _ClassVar[int]
    platform: _common_pb2.Platform
    enabled: bool
    impersonation_role: str
    allowed_impersonators: _containers.RepeatedScalarFieldContainer[str]
    allowed_impersonator_pattern: str
    update_time: _timestamp_pb2.Timestamp
    etag: str
    target_group_ids: _containers.RepeatedScalarFieldContainer[str]
    impersonation_supported: bool
    def __init__(self, platform: _Optional[_Union[_common_pb2.Platform, str]] = ..., enabled: _Optional[bool] = ..., impersonation_role: _Optional[str] = ..., allowed_impersonators: _Optional[_Iterable[str]] = ..., allowed_impersonator_pattern: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ..., target_group_ids: _Optional[_Iterable[str]] = ..., impersonation_supported: _Optional[bool] = ...) -> None: ...

class ListIntegrationsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListIntegrationsResponse(_message.Message):
    __slots__ = ("integrations",)
    INTEGRATIONS_FIELD_NUMBER: _ClassVar[int]
    integrations: _containers.RepeatedCompositeFieldContainer[Integration]
    def __init__(self, integrations: _Optional[_Iterable[_Union[Integration, _Mapping]]] = ...) -> None: ...

class GetIntegrationRequest(_message.Message):
    __slots__ = ("platform",)
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    platform: _common_pb2.Platform
    def __init__(self, platform: _Optional[_Union[_common_pb2.Platform, str]] = ...) -> None: ...

class ConfigureIntegrationRequest(_message.Message):
    __slots__ = ("platform", "enabled", "impersonation_role", "allowed_impersonators", "allowed_impersonator_pattern", "etag", "target_group_ids")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    IMPERSONATION_ROLE_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_IMPERSONATORS_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_IMPERSONATOR_PATTERN_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    TARGET_GROUP_IDS_FIELD_NUMBER: _ClassVar[int]
    platform: _common_pb2.Platform
    enabled: bool
    impersonation_role: str
    allowed_impersonators: _containers.RepeatedScalarFieldContainer[str]
    allowed_impersonator_pattern: str
    etag: str
    target_group_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, platform: _Optional[_Union[_common_pb2.Platform, str]] = ..., enabled: _Optional[bool] = ..., impersonation_role: _Optional[str] = ..., allowed_impersonators: _Optional[_Iterable[str]] = ..., allowed_impersonator_pattern: _Optional[str] = ..., etag: _Optional[str] = ..., target_group_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CheckImpersonationRequest(_message.Message):
    __slots__ = ("platform", "actor", "target", "session_id", "consistency")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    platform: _common_pb2.Platform
    actor: str
    target: str
    session_id: str
    consistency: _common_pb2.Consistency
    def __init__(self, platform: _Optional[_Union[_common_pb2.Platform, str]] = ..., actor: _Optional[str] = ..., target: _Optional[str] = ..., session_id: _Optional[str] = ..., consistency: _Optional[_Union[_common_pb2.Consistency, _Mapping]] = ...) -> None: ...

class CheckImpersonationResponse(_message.Message):
    __slots__ = ("allowed", "reason", "explanation", "actor_user_id", "target_user_id")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_USER_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_USER_ID_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    reason: _common_pb2.ImpersonationReason
    explanation: str
    actor_user_id: str
    target_user_id: str
    def __init__(self, allowed: _Optional[bool] = ..., reason: _Optional[_Union[_common_pb2.ImpersonationReason, str]] = ..., explanation: _Optional[str] = ..., actor_user_id: _Optional[str] = ..., target_user_id: _Optional[str] = ...) -> None: ...

class ImpersonationSession(_message.Message):
    __slots__ = ("session_id", "platform", "actor", "target", "actor_user_id", "target_user_id", "begin_time", "end_time", "reason", "expire_time", "active")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    ACTOR_USER_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_USER_ID_FIELD_NUMBER: _ClassVar[int]
    BEGIN_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    platform: _common_pb2.Platform
    actor: str
    target: str
    actor_user_id: str
    target_user_id: str
    begin_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    reason: str
    expire_time: _timestamp_pb2.Timestamp
    active: bool
    def __init__(self, session_id: _Optional[str] = ..., platform: _Optional[_Union[_common_pb2.Platform, str]] = ..., actor: _Optional[str] = ..., target: _Optional[str] = ..., actor_user_id: _Optional[str] = ..., target_user_id: _Optional[str] = ..., begin_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., active: _Optional[bool] = ...) -> None: ...

class BeginImpersonationRequest(_message.Message):
    __slots__ = ("platform", "actor", "target", "session_id", "reason", "ttl")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    platform: _common_pb2.Platform
    actor: str
    target: str
    session_id: str
    reason: str
    ttl: _duration_pb2.Duration
    def __init__(self, platform: _Optional[_Union[_common_pb2.Platform, str]] = ..., actor: _Optional[str] = ..., target: _Optional[str] = ..., session_id: _Optional[str] = ..., reason: _Optional[str] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class EndImpersonationRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class ListImpersonationSessionsRequest(_message.Message):
    __slots__ = ("platform", "actor", "active_only", "page_size", "page_token")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_ONLY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    platform: _common_pb2.Platform
    actor: str
    active_only: bool
    page_size: int
    page_token: str
    def __init__(self, platform: _Optional[_Union[_common_pb2.Platform, str]] = ..., actor: _Optional[str] = ..., active_only: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListImpersonationSessionsResponse(_message.Message):
    __slots__ = ("sessions", "next_page_token")
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[ImpersonationSession]
    next_page_token: str
    def __init__(self, sessions: _Optional[_Iterable[_Union[ImpersonationSession, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
