import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from . import common_pb2 as _common_pb2
from . import users_pb2 as _users_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Iam(_message.Message):
    __slots__ = ("id", "name", "built_in", "user_info_endpoint", "profile_schema", "create_time", "update_time", "etag")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BUILT_IN_FIELD_NUMBER: _ClassVar[int]
    USER_INFO_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    PROFILE_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    built_in: bool
    user_info_endpoint: UserInfoEndpoint
    profile_schema: _containers.RepeatedCompositeFieldContainer[ProfileSchemaEntry]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., built_in: _Optional[bool] = ..., user_info_endpoint: _Optional[_Union[UserInfoEndpoint, _Mapping]] = ..., profile_schema: _Optional[_Iterable[_Union[ProfileSchemaEntry, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class UserInfoEndpoint(_message.Message):
    __slots__ = ("uri", "basic_auth_username", "basic_auth_password", "has_basic_auth_password", "tls", "connect_timeout", "request_timeout")
    URI_FIELD_NUMBER: _ClassVar[int]
    BASIC_AUTH_USERNAME_FIELD_NUMBER: _ClassVar[int]
    BASIC_AUTH_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    HAS_BASIC_AUTH_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    TLS_FIELD_NUMBER: _ClassVar[int]
    CONNECT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    uri: str
    basic_auth_username: str
    basic_auth_password: str
    has_basic_auth_password: bool
    tls: TlsConfig
    connect_timeout: _duration_pb2.Duration
    request_timeout: _duration_pb2.Duration
    def __init__(self, uri: _Optional[str] = ..., basic_auth_username: _Optional[str] = ..., basic_auth_password: _Optional[str] = ..., has_basic_auth_password: _Optional[bool] = ..., tls: _Optional[_Union[TlsConfig, _Mapping]] = ..., connect_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., request_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class TlsConfig(_message.Message):
    __slots__ = ("ca_cert_pem", "client_cert_pem", "client_key_pem", "has_client_key")
    CA_CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    CLIENT_CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    CLIENT_KEY_PEM_FIELD_NUMBER: _ClassVar[int]
    HAS_CLIENT_KEY_FIELD_NUMBER: _ClassVar[int]
    ca_cert_pem: str
    client_cert_pem: str
    client_key_pem: str
    has_client_key: bool
    def __init__(self, ca_cert_pem: _Optional[str] = ..., client_cert_pem: _Optional[str] = ..., client_key_pem: _Optional[str] = ..., has_client_key: _Optional[bool] = ...) -> None: ...

class ProfileSchemaEntry(_message.Message):
    __slots__ = ("platform", "attribute", "aws_user_type")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    AWS_USER_TYPE_FIELD_NUMBER: _ClassVar[int]
    platform: _common_pb2.Platform
    attribute: str
    aws_user_type: _common_pb2.AwsUserType
    def __init__(self, platform: _Optional[_Union[_common_pb2.Platform, str]] = ..., attribute: _Optional[str] = ..., aws_user_type: _Optional[_Union[_common_pb2.AwsUserType, str]] = ...) -> None: ...

class ListIamsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListIamsResponse(_message.Message):
    __slots__ = ("iams", "next_page_token")
    IAMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    iams: _containers.RepeatedCompositeFieldContainer[Iam]
    next_page_token: str
    def __init__(self, iams: _Optional[_Iterable[_Union[Iam, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetIamRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class CreateIamRequest(_message.Message):
    __slots__ = ("name", "user_info_endpoint", "profile_schema")
    NAME_FIELD_NUMBER: _ClassVar[int]
    USER_INFO_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    PROFILE_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    name: str
    user_info_endpoint: UserInfoEndpoint
    profile_schema: _containers.RepeatedCompositeFieldContainer[ProfileSchemaEntry]
    def __init__(self, name: _Optional[str] = ..., user_info_endpoint: _Optional[_Union[UserInfoEndpoint, _Mapping]] = ..., profile_schema: _Optional[_Iterable[_Union[ProfileSchemaEntry, _Mapping]]] = ...) -> None: ...

class UpdateIamRequest(_message.Message):
    __slots__ = ("iam", "update_mask", "etag")
    IAM_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    iam: Iam
    update_mask: _field_mask_pb2.FieldMask
    etag: str
    def __init__(self, iam: _Optional[_Union[Iam, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class DeleteIamRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class Settings(_message.Message):
    __slots__ = ("default_permissions", "admins_and_governors_mutually_exclusive", "etag")
    DEFAULT_PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    ADMINS_AND_GOVERNORS_MUTUALLY_EXCLUSIVE_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    default_permissions: _containers.RepeatedScalarFieldContainer[str]
    admins_and_governors_mutually_exclusive: bool
    etag: str
    def __init__(self, default_permissions: _Optional[_Iterable[str]] = ..., admins_and_governors_mutually_exclusive: _Optional[bool] = ..., etag: _Optional[str] = ...) -> None: ...

class GetSettingsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UpdateSettingsRequest(_message.Message):
    __slots__ = ("settings", "update_mask", "etag")
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    settings: Settings
    update_mask: _field_mask_pb2.FieldMask
    etag: str
    def __init__(self, settings: _Optional[_Union[Settings, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class TestConnectionRequest(_message.Message):
    __slots__ = ("iam_id",)
    IAM_ID_FIELD_NUMBER: _ClassVar[int]
    iam_id: str
    def __init__(self, iam_id: _Optional[str] = ...) -> None: ...

class TestConnectionResponse(_message.Message):
    __slots__ = ("ok", "http_status", "error", "latency")
    OK_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    http_status: int
    error: str
    latency: _duration_pb2.Duration
    def __init__(self, ok: _Optional[bool] = ..., http_status: _Optional[int] = ..., error: _Optional[str] = ..., latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class TestUserLoginRequest(_message.Message):
    __slots__ = ("iam_id", "userid")
    IAM_ID_FIELD_NUMBER: _ClassVar[int]
    USERID_FIELD_NUMBER: _ClassVar[int]
    iam_id: str
    userid: str
    def __init__(self, iam_id: _Optional[str] = ..., userid: _Optional[str] = ...) -> None: ...

class TestUserLoginResponse(_message.Message):
    __slots__ = ("ok", "http_status", "error", "groups", "authorizations", "external_usernames")
    class AuthorizationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _common_pb2.AttributeValues
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.AttributeValues, _Mapping]] = ...) -> None: ...
    OK_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATIONS_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_USERNAMES_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    http_status: int
    error: str
    groups: _containers.RepeatedScalarFieldContainer[str]
    authorizations: _containers.MessageMap[str, _common_pb2.AttributeValues]
    external_usernames: _containers.RepeatedCompositeFieldContainer[_users_pb2.ExternalUsername]
    def __init__(self, ok: _Optional[bool] = ..., http_status: _Optional[int] = ..., error: _Optional[str] = ..., groups: _Optional[_Iterable[str]] = ..., authorizations: _Optional[_Mapping[str, _common_pb2.AttributeValues]] = ..., external_usernames: _Optional[_Iterable[_Union[_users_pb2.ExternalUsername, _Mapping]]] = ...) -> None: ...

class SyncUserRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class SyncAllRequest(_message.Message):
    __slots__ = ("iam_id", "dry_run", "concurrency")
    IAM_ID_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    iam_id: str
    dry_run: bool
    concurrency: int
    def __init__(self, iam_id: _Optional[str] = ..., dry_run: _Optional[bool] = ..., concurrency: _Optional[int] = ...) -> None: ...

class SyncChanges(_message.Message):
    __slots__ = ("groups_added", "groups_created", "groups_removed", "authorizations_added", "authorizations_removed", "external_usernames_set")
    class AuthorizationsAddedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _common_pb2.AttributeValues
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.AttributeValues, _Mapping]] = ...) -> None: ...
    class AuthorizationsRemovedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _common_pb2.AttributeValues
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.AttributeValues, _Mapping]] = ...) -> None: ...
    GROUPS_ADDED_FIELD_NUMBER: _ClassVar[int]
    GROUPS_CREATED_FIELD_NUMBER: _ClassVar[int]
    GROUPS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATIONS_ADDED_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATIONS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_USERNAMES_SET_FIELD_NUMBER: _ClassVar[int]
    groups_added: _containers.RepeatedScalarFieldContainer[str]
    groups_created: _containers.RepeatedScalarFieldContainer[str]
    groups_removed: _containers.RepeatedScalarFieldContainer[str]
    authorizations_added: _containers.MessageMap[str, _common_pb2.AttributeValues]
    authorizations_removed: _containers.MessageMap[str, _common_pb2.AttributeValues]
    external_usernames_set: _containers.RepeatedCompositeFieldContainer[_users_pb2.ExternalUsername]
    def __init__(self, groups_added: _Optional[_Iterable[str]] = ..., groups_created: _Optional[_Iterable[str]] = ..., groups_removed: _Optional[_Iterable[str]] = ..., authorizations_added: _Optional[_Mapping[str, _common_pb2.AttributeValues]] = ..., authorizations_removed: _Optional[_Mapping[str, _common_pb2.AttributeValues]] = ..., external_usernames_set: _Optional[_Iterable[_Union[_users_pb2.ExternalUsername, _Mapping]]] = ...) -> None: ...

class SyncProgress(_message.Message):
    __slots__ = ("users_total", "users_done", "users_failed", "user_id", "error", "changes", "users_changed")
    USERS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    USERS_DONE_FIELD_NUMBER: _ClassVar[int]
    USERS_FAILED_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    USERS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    users_total: int
    users_done: int
    users_failed: int
    user_id: str
    error: str
    changes: SyncChanges
    users_changed: int
    def __init__(self, users_total: _Optional[int] = ..., users_done: _Optional[int] = ..., users_failed: _Optional[int] = ..., user_id: _Optional[str] = ..., error: _Optional[str] = ..., changes: _Optional[_Union[SyncChanges, _Mapping]] = ..., users_changed: _Optional[int] = ...) -> None: ...
