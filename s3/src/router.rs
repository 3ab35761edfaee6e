//! Every S3 request's way in: [`dispatch`] checks its signature, takes it
//! apart ([`crate::request`]) and routes it by method and sub-resource to
//! [`crate::bucket`], [`crate::list`], [`crate::object`] or
//! [`crate::multipart`]; what fails is answered as S3's XML error.
use crate::error::{S3Error, S3Result};
use crate::request::{address, parse_query, vhost_bucket, Ctx};
use crate::{bucket, list, multipart, object, S3State};
use crate::{sigv2, sigv4};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

/// Every S3 request comes here: authenticated, taken apart, routed; an
/// error is S3's XML error (no body for HEAD).
pub async fn dispatch(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<S3State>,
) -> HttpResponse {
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    let head = req.method() == Method::HEAD;
    let resource = req.uri().path().to_string();
    let method = req.method().clone();
    match handle(req, body, &state).await {
        Ok(mut resp) => {
            if let Ok(v) = request_id.parse() {
                resp.headers_mut().insert(
                    actix_web::http::header::HeaderName::from_static("x-amz-request-id"),
                    v,
                );
            }
            resp
        }
        Err(e) => {
            if e.status.is_server_error() {
                log::warn!("S3 {method} {resource}: {e}");
            } else {
                log::debug!("S3 {method} {resource}: {e}");
            }
            e.response(&resource, &request_id, head)
        }
    }
}

async fn handle(req: HttpRequest, body: web::Payload, state: &S3State) -> S3Result<HttpResponse> {
    let raw_query = req.uri().query().unwrap_or("");
    let secret_of = |ak: &str| state.keys.lookup(ak).map(|(secret, _)| secret);
    let pairs: Vec<(String, String)> = parse_query(raw_query)?.into_iter().collect();
    let verified = if sigv2::is_v2(req.headers(), &pairs) {
        sigv2::verify(
            req.method().as_str(),
            req.uri().path(),
            &pairs,
            req.headers(),
            vhost_bucket(&req, &state.domains).as_deref(),
            std::time::SystemTime::now(),
            secret_of,
        )?
    } else {
        sigv4::verify(
            req.method().as_str(),
            req.uri().path(),
            raw_query,
            req.headers(),
            std::time::SystemTime::now(),
            secret_of,
        )?
    };
    let user = state
        .keys
        .lookup(&verified.access_key)
        .map(|(_, user)| user)
        .ok_or_else(|| {
            S3Error::new(
                "InvalidAccessKeyId",
                StatusCode::FORBIDDEN,
                "the key is gone",
            )
        })?;
    let address = address(&req, &state.domains)?;
    let query = parse_query(raw_query)?;
    let dfs = state.keys.client_for(&user);
    let mut ctx = Ctx::new(
        req,
        dfs,
        address,
        query,
        verified.payload,
        body,
        state.body_idle_timeout,
    );
    let method = ctx.req.method().clone();
    match (ctx.bucket.is_some(), ctx.key.is_some()) {
        (false, _) => match method {
            Method::GET => bucket::list_buckets(&ctx, &user).await,
            _ => Err(not_supported(&method, "the service")),
        },
        (true, false) => route_bucket(&mut ctx, &method).await,
        (true, true) => route_object(&mut ctx, &method).await,
    }
}

async fn route_bucket(ctx: &mut Ctx, method: &Method) -> S3Result<HttpResponse> {
    const UNSUPPORTED: [&str; 14] = [
        "acl",
        "policy",
        "cors",
        "lifecycle",
        "tagging",
        "website",
        "replication",
        "encryption",
        "logging",
        "notification",
        "object-lock",
        "accelerate",
        "requestPayment",
        "ownershipControls",
    ];
    if let Some(sub) = UNSUPPORTED.iter().find(|s| ctx.has(s)) {
        if *method == Method::GET && *sub == "acl" {
            return bucket::acl(ctx).await;
        }
        return Err(S3Error::not_implemented(format!(
            "bucket {sub} is not supported by dfs"
        )));
    }
    match *method {
        Method::PUT if ctx.has("versioning") => Err(S3Error::not_implemented(
            "versioning is not supported by dfs",
        )),
        Method::PUT => bucket::create(ctx).await,
        Method::HEAD => bucket::head(ctx).await,
        Method::DELETE => bucket::delete(ctx).await,
        Method::GET if ctx.has("location") => bucket::location(ctx).await,
        Method::GET if ctx.has("versioning") => bucket::versioning(ctx).await,
        Method::GET if ctx.has("uploads") => multipart::list_uploads(ctx).await,
        Method::GET if ctx.has("versions") => Err(S3Error::not_implemented(
            "versioning is not supported by dfs",
        )),
        Method::GET => list::list_objects(ctx).await,
        Method::POST if ctx.has("delete") => object::delete_objects(ctx).await,
        _ => Err(not_supported(method, "a bucket")),
    }
}

async fn route_object(ctx: &mut Ctx, method: &Method) -> S3Result<HttpResponse> {
    for sub in [
        "acl",
        "tagging",
        "retention",
        "legal-hold",
        "torrent",
        "restore",
        "select",
    ] {
        if ctx.has(sub) {
            if *method == Method::GET && sub == "acl" {
                return bucket::acl(ctx).await;
            }
            return Err(S3Error::not_implemented(format!(
                "object {sub} is not supported by dfs"
            )));
        }
    }
    let upload = ctx.has("uploadId");
    match *method {
        Method::PUT if upload && ctx.header("x-amz-copy-source").is_some() => {
            multipart::upload_part_copy(ctx).await
        }
        Method::PUT if upload => multipart::upload_part(ctx).await,
        Method::PUT if ctx.header("x-amz-copy-source").is_some() => object::copy(ctx).await,
        Method::PUT => object::put(ctx).await,
        Method::GET if upload => multipart::list_parts(ctx).await,
        Method::GET => object::get(ctx, false).await,
        Method::HEAD => object::get(ctx, true).await,
        Method::DELETE if upload => multipart::abort(ctx).await,
        Method::DELETE => object::delete(ctx).await,
        Method::POST if ctx.has("uploads") => multipart::create(ctx).await,
        Method::POST if upload => multipart::complete(ctx).await,
        _ => Err(not_supported(method, "an object")),
    }
}

fn not_supported(method: &Method, what: &str) -> S3Error {
    S3Error::new(
        "MethodNotAllowed",
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {what} (or not supported by dfs)"),
    )
}
