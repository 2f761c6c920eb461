//! The error answers the agent API's operations share, as reusable OpenAPI
//! responses: every one is RFC 9457 problem details (`AppError`'s
//! `IntoResponse`), 401 with `WWW-Authenticate`, 429 with `Retry-After`.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{PartialSchema, ToResponse, ToSchema};

fn problem(description: &str) -> ResponseBuilder {
    let body = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(app::error::Problem::name())))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/problem+json", body)
}

/// Any refusal: 400, 403, 404, 409, 413, 415, 422.
pub struct ProblemAnswer;

impl<'s> ToResponse<'s> for ProblemAnswer {
    fn response() -> (&'s str, RefOr<Response>) {
        (
            "Problem",
            problem("RFC 9457 problem details").build().into(),
        )
    }
}

/// 401: no key, a malformed one, or one Belay does not accept.
pub struct UnauthorizedAnswer;

impl<'s> ToResponse<'s> for UnauthorizedAnswer {
    fn response() -> (&'s str, RefOr<Response>) {
        let challenge = HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String))
            .build();
        let answer = problem("No valid API key (RFC 9457 problem details)")
            .header("WWW-Authenticate", challenge)
            .build();
        ("Unauthorized", answer.into())
    }
}

/// 429: over one of the agent's quotas.
pub struct TooManyRequestsAnswer;

impl<'s> ToResponse<'s> for TooManyRequestsAnswer {
    fn response() -> (&'s str, RefOr<Response>) {
        let wait = HeaderBuilder::new()
            .description(Some("Seconds to wait"))
            .schema(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1)),
            )
            .build();
        let answer = problem("Over one of the agent's quotas (RFC 9457 problem details); try again after Retry-After seconds")
            .header("Retry-After", wait)
            .build();
        ("TooManyRequests", answer.into())
    }
}

/// The `Idempotent-Replayed` header's values.
pub struct Replayed;

impl PartialSchema for Replayed {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["true", "false"]))
            .into()
    }
}

impl ToSchema for Replayed {}
