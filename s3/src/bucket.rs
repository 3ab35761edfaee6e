//! Buckets: the top-level directories. ListBuckets lists those whose
//! names S3 would take; CreateBucket makes one; DeleteBucket removes an
//! empty one (its multipart staging area with it).
use crate::error::{from_client, S3Error, S3Result};
use crate::request::{bucket_path, valid_bucket_name, Ctx, STAGING};
use crate::xml::{self, Bucket, Buckets, ListAllMyBucketsResult, Owner, XMLNS};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use dfs_client::ClientError;
use dfs_common::error::ErrorCode;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::FileType;

pub fn xml_ok(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/xml")
        .body(body)
}

pub async fn list_buckets(ctx: &Ctx, user: &str) -> S3Result<HttpResponse> {
    let entries = ctx
        .dfs
        .list(&DfsPath::root())
        .await
        .map_err(|e| from_client(e, "/"))?;
    let bucket = entries
        .into_iter()
        .filter(|e| e.file_type == FileType::Directory && valid_bucket_name(&e.name))
        .map(|e| Bucket {
            name: e.name,
            creation_date: xml::iso8601(e.modification_time),
        })
        .collect();
    xml::to_xml(&ListAllMyBucketsResult {
        xmlns: XMLNS,
        owner: Owner {
            id: user.to_string(),
            display_name: user.to_string(),
        },
        buckets: Buckets { bucket },
    })
    .map(xml_ok)
}

/// The bucket exists (a directory), or `NoSuchBucket`.
pub async fn require(ctx: &Ctx, bucket: &str) -> S3Result<DfsPath> {
    let path = bucket_path(bucket)?;
    match ctx.dfs.status(&path).await {
        Ok(st) if st.file_type == FileType::Directory => Ok(path),
        Ok(_) => Err(S3Error::no_such_bucket(bucket)),
        Err(e) if e.code() == ErrorCode::NotFound => Err(S3Error::no_such_bucket(bucket)),
        Err(e) => Err(from_client(e, bucket)),
    }
}

pub async fn create(ctx: &mut Ctx) -> S3Result<HttpResponse> {
    let bucket = ctx.bucket()?.to_string();
    let path = bucket_path(&bucket)?;
    // The body (a CreateBucketConfiguration naming a region) is read and
    // checked, its region ignored: a dfs cluster is one place.
    let body = ctx.small_body().await?;
    if !body.is_empty() {
        xml::from_xml::<serde::de::IgnoredAny>(&body)?;
    }
    // A directory that exists is no error to mkdir: asked first.
    match ctx.dfs.status(&path).await {
        Ok(_) => {
            return Err(S3Error::new(
                "BucketAlreadyOwnedByYou",
                StatusCode::CONFLICT,
                format!("the bucket {bucket:?} exists"),
            ))
        }
        Err(e) if e.code() == ErrorCode::NotFound => {}
        Err(e) => return Err(from_client(e, &bucket)),
    }
    match ctx.dfs.mkdirs(&path, false).await {
        Ok(_) => Ok(HttpResponse::Ok()
            .insert_header(("location", format!("/{bucket}")))
            .finish()),
        Err(ClientError::Remote {
            code: ErrorCode::Conflict,
            ..
        }) => Err(S3Error::new(
            "BucketAlreadyOwnedByYou",
            StatusCode::CONFLICT,
            format!("the bucket {bucket:?} exists"),
        )),
        Err(e) => Err(from_client(e, &bucket)),
    }
}

pub async fn head(ctx: &Ctx) -> S3Result<HttpResponse> {
    require(ctx, ctx.bucket()?).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("x-amz-bucket-region", "us-east-1"))
        .finish())
}

/// Only an empty bucket goes (uploads in progress are aborted with it).
pub async fn delete(ctx: &Ctx) -> S3Result<HttpResponse> {
    let bucket = ctx.bucket()?;
    let path = require(ctx, bucket).await?;
    let page = ctx
        .dfs
        .list_page(&path, None, Some(2))
        .await
        .map_err(|e| from_client(e, bucket))?;
    if page.entries.iter().any(|e| e.name != STAGING) {
        return Err(S3Error::new(
            "BucketNotEmpty",
            StatusCode::CONFLICT,
            format!("the bucket {bucket:?} is not empty"),
        ));
    }
    ctx.dfs
        .delete(&path, true)
        .await
        .map_err(|e| from_client(e, bucket))?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn location(ctx: &Ctx) -> S3Result<HttpResponse> {
    require(ctx, ctx.bucket()?).await?;
    xml::to_xml(&xml::LocationConstraint {
        xmlns: XMLNS,
        region: String::new(),
    })
    .map(xml_ok)
}

/// Never enabled: dfs keeps one version of a file.
pub async fn versioning(ctx: &Ctx) -> S3Result<HttpResponse> {
    require(ctx, ctx.bucket()?).await?;
    xml::to_xml(&xml::VersioningConfiguration { xmlns: XMLNS }).map(xml_ok)
}

/// The one ACL dfs has in S3's terms: the owner's full control (access is
/// decided by the files' permissions, as through every door).
pub async fn acl(ctx: &Ctx) -> S3Result<HttpResponse> {
    let bucket = ctx.bucket()?;
    let path = match ctx.key.as_deref() {
        Some(k) => crate::request::object_path(bucket, k)?,
        None => bucket_path(bucket)?,
    };
    let st = ctx
        .dfs
        .status(&path)
        .await
        .map_err(|e| from_client(e, ctx.key.as_deref().unwrap_or(bucket)))?;
    let owner = crate::error::escape(&st.owner);
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AccessControlPolicy xmlns=\"{XMLNS}\"><Owner><ID>{owner}</ID><DisplayName>{owner}</DisplayName></Owner><AccessControlList><Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"><ID>{owner}</ID><DisplayName>{owner}</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>"
    );
    Ok(xml_ok(body))
}
