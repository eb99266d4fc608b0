from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class Platform(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLATFORM_UNSPECIFIED: _ClassVar[Platform]
    PLATFORM_SNOWFLAKE: _ClassVar[Platform]
    PLATFORM_REDSHIFT: _ClassVar[Platform]
    PLATFORM_SYNAPSE: _ClassVar[Platform]
    PLATFORM_TRINO: _ClassVar[Platform]
    PLATFORM_DATABRICKS: _ClassVar[Platform]
    PLATFORM_POSTGRESQL: _ClassVar[Platform]
    PLATFORM_TERADATA: _ClassVar[Platform]
    PLATFORM_S3: _ClassVar[Platform]

class AwsUserType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AWS_USER_TYPE_UNSPECIFIED: _ClassVar[AwsUserType]
    AWS_USER_TYPE_NONE: _ClassVar[AwsUserType]
    AWS_USER_TYPE_IAM_USER: _ClassVar[AwsUserType]
    AWS_USER_TYPE_IAM_ROLE: _ClassVar[AwsUserType]
    AWS_USER_TYPE_IDENTITY_CENTER_USER: _ClassVar[AwsUserType]

class ImpersonationReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMPERSONATION_REASON_UNSPECIFIED: _ClassVar[ImpersonationReason]
    IMPERSONATION_REASON_ALLOWED_BY_PERMISSION: _ClassVar[ImpersonationReason]
    IMPERSONATION_REASON_ALLOWED_BY_ALLOW_LIST: _ClassVar[ImpersonationReason]
    IMPERSONATION_REASON_ALLOWED_BY_PATTERN: _ClassVar[ImpersonationReason]
    IMPERSONATION_REASON_INTEGRATION_DISABLED: _ClassVar[ImpersonationReason]
    IMPERSONATION_REASON_UNSUPPORTED_PLATFORM: _ClassVar[ImpersonationReason]
    IMPERSONATION_REASON_ACTOR_UNKNOWN: _ClassVar[ImpersonationReason]
    IMPERSONATION_REASON_ACTOR_DISABLED: _ClassVar[ImpersonationReason]
    IMPERSONATION_REASON_ACTOR_LACKS_PERMISSION: _ClassVar[ImpersonationReason]
    IMPERSONATION_REASON_ACTOR_NOT_ALLOWED: _ClassVar[ImpersonationReason]
    IMPERSONATION_REASON_TARGET_UNKNOWN: _ClassVar[ImpersonationReason]
    IMPERSONATION_REASON_TARGET_DISABLED: _ClassVar[ImpersonationReason]
    IMPERSONATION_REASON_TARGET_OUT_OF_SCOPE: _ClassVar[ImpersonationReason]
    IMPERSONATION_REASON_SESSION_ENDED: _ClassVar[ImpersonationReason]
PLATFORM_UNSPECIFIED: Platform
PLATFORM_SNOWFLAKE: Platform
PLATFORM_REDSHIFT: Platform
PLATFORM_SYNAPSE: Platform
PLATFORM_TRINO: Platform
PLATFORM_DATABRICKS: Platform
PLATFORM_POSTGRESQL: Platform
PLATFORM_TERADATA: Platform
PLATFORM_S3: Platform
AWS_USER_TYPE_UNSPECIFIED: AwsUserType
AWS_USER_TYPE_NONE: AwsUserType
AWS_USER_TYPE_IAM_USER: AwsUserType
AWS_USER_TYPE_IAM_ROLE: AwsUserType
AWS_USER_TYPE_IDENTITY_CENTER_USER: AwsUserType
IMPERSONATION_REASON_UNSPECIFIED: ImpersonationReason
IMPERSONATION_REASON_ALLOWED_BY_PERMISSION: ImpersonationReason
IMPERSONATION_REASON_ALLOWED_BY_ALLOW_LIST: ImpersonationReason
IMPERSONATION_REASON_ALLOWED_BY_PATTERN: ImpersonationReason
IMPERSONATION_REASON_INTEGRATION_DISABLED: ImpersonationReason
IMPERSONATION_REASON_UNSUPPORTED_PLATFORM: ImpersonationReason
IMPERSONATION_REASON_ACTOR_UNKNOWN: ImpersonationReason
IMPERSONATION_REASON_ACTOR_DISABLED: ImpersonationReason
IMPERSONATION_REASON_ACTOR_LACKS_PERMISSION: ImpersonationReason
IMPERSONATION_REASON_ACTOR_NOT_ALLOWED: ImpersonationReason
IMPERSONATION_REASON_TARGET_UNKNOWN: ImpersonationReason
IMPERSONATION_REASON_TARGET_DISABLED: ImpersonationReason
IMPERSONATION_REASON_TARGET_OUT_OF_SCOPE: ImpersonationReason
IMPERSONATION_REASON_SESSION_ENDED: ImpersonationReason

class AttributeValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class Consistency(_message.Message):
    __slots__ = ("at_least_as_fresh", "fully_consistent")
    AT_LEAST_AS_FRESH_FIELD_NUMBER: _ClassVar[int]
    FULLY_CONSISTENT_FIELD_NUMBER: _ClassVar[int]
    at_least_as_fresh: str
    fully_consistent: bool
    def __init__(self, at_least_as_fresh: _Optional[str] = ..., fully_consistent: _Optional[bool] = ...) -> None: ...
