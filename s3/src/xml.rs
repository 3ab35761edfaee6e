//! S3's XML bodies, as serde types (quick-xml does the reading and the
//! writing): the answers we send and the few requests with a body
//! (DeleteObjects, CompleteMultipartUpload, CreateBucket). Names are S3's.
//!
//! Request bodies are read whole, but bounded ([`MAX_XML_BODY`]), and
//! quick-xml expands no external entities and no DTD, so an "XML bomb"
//! is just malformed input here.
use crate::error::{S3Error, S3Result};
use serde::{Deserialize, Serialize};

/// S3's namespace, on every answer's root element.
pub const XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// The largest XML request body read (a DeleteObjects of 1,000 long keys
/// or a CompleteMultipartUpload of 10,000 parts fits).
pub const MAX_XML_BODY: usize = 2 << 20;

/// `<?xml ...?>` and the body of `value`, an answer.
pub fn to_xml<T: Serialize>(value: &T) -> S3Result<String> {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    quick_xml::se::to_writer(&mut out, value)
        .map_err(|e| S3Error::internal(format!("cannot write the XML answer: {e}")))?;
    Ok(out)
}

/// A request body, parsed (`MalformedXML` when it is not what S3 expects).
pub fn from_xml<T: for<'de> Deserialize<'de>>(body: &[u8]) -> S3Result<T> {
    let text = std::str::from_utf8(body)
        .map_err(|_| S3Error::malformed_xml("the XML body is not UTF-8"))?;
    if text.contains("<!DOCTYPE") || text.contains("<!ENTITY") {
        return Err(S3Error::malformed_xml(
            "document type declarations and entities are not accepted",
        ));
    }
    quick_xml::de::from_str(text).map_err(|e| {
        S3Error::malformed_xml(format!(
            "the XML you provided was not well-formed or did not validate: {e}"
        ))
    })
}

#[derive(Debug, Serialize)]
#[serde(rename = "ListAllMyBucketsResult")]
pub struct ListAllMyBucketsResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    #[serde(rename = "Owner")]
    pub owner: Owner,
    #[serde(rename = "Buckets")]
    pub buckets: Buckets,
}

#[derive(Debug, Serialize)]
pub struct Owner {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "DisplayName")]
    pub display_name: String,
}

#[derive(Debug, Serialize)]
pub struct Buckets {
    #[serde(rename = "Bucket")]
    pub bucket: Vec<Bucket>,
}

#[derive(Debug, Serialize)]
pub struct Bucket {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "CreationDate")]
    pub creation_date: String,
}

#[derive(Debug, Serialize)]
#[serde(rename = "LocationConstraint")]
pub struct LocationConstraint {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    #[serde(rename = "$text")]
    pub region: String,
}

#[derive(Debug, Serialize)]
#[serde(rename = "VersioningConfiguration")]
pub struct VersioningConfiguration {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
}

/// ListObjectsV2 (`list-type=2`) and ListObjects (V1) share one shape;
/// the fields of the other version are left out.
#[derive(Debug, Default, Serialize)]
#[serde(rename = "ListBucketResult")]
pub struct ListBucketResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Prefix")]
    pub prefix: String,
    #[serde(rename = "Marker", skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(rename = "NextMarker", skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    #[serde(rename = "StartAfter", skip_serializing_if = "Option::is_none")]
    pub start_after: Option<String>,
    #[serde(rename = "ContinuationToken", skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
    #[serde(
        rename = "NextContinuationToken",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_continuation_token: Option<String>,
    #[serde(rename = "KeyCount", skip_serializing_if = "Option::is_none")]
    pub key_count: Option<usize>,
    #[serde(rename = "MaxKeys")]
    pub max_keys: usize,
    #[serde(rename = "Delimiter", skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    #[serde(rename = "EncodingType", skip_serializing_if = "Option::is_none")]
    pub encoding_type: Option<String>,
    #[serde(rename = "IsTruncated")]
    pub is_truncated: bool,
    #[serde(rename = "Contents")]
    pub contents: Vec<Object>,
    #[serde(rename = "CommonPrefixes")]
    pub common_prefixes: Vec<CommonPrefix>,
}

#[derive(Debug, Serialize)]
pub struct Object {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "LastModified")]
    pub last_modified: String,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "Size")]
    pub size: u64,
    #[serde(rename = "StorageClass")]
    pub storage_class: &'static str,
}

#[derive(Debug, Serialize)]
pub struct CommonPrefix {
    #[serde(rename = "Prefix")]
    pub prefix: String,
}

#[derive(Debug, Serialize)]
#[serde(rename = "CopyObjectResult")]
pub struct CopyObjectResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    #[serde(rename = "LastModified")]
    pub last_modified: String,
    #[serde(rename = "ETag")]
    pub etag: String,
}

#[derive(Debug, Serialize)]
#[serde(rename = "CopyPartResult")]
pub struct CopyPartResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    #[serde(rename = "LastModified")]
    pub last_modified: String,
    #[serde(rename = "ETag")]
    pub etag: String,
}

/// The DeleteObjects request.
#[derive(Debug, Deserialize)]
pub struct Delete {
    #[serde(rename = "Object", default)]
    pub objects: Vec<ObjectIdentifier>,
    #[serde(rename = "Quiet", default)]
    pub quiet: bool,
}

#[derive(Debug, Deserialize)]
pub struct ObjectIdentifier {
    #[serde(rename = "Key")]
    pub key: String,
}

#[derive(Debug, Serialize)]
#[serde(rename = "DeleteResult")]
pub struct DeleteResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    #[serde(rename = "Deleted")]
    pub deleted: Vec<Deleted>,
    #[serde(rename = "Error")]
    pub errors: Vec<DeleteError>,
}

#[derive(Debug, Serialize)]
pub struct Deleted {
    #[serde(rename = "Key")]
    pub key: String,
}

#[derive(Debug, Serialize)]
pub struct DeleteError {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Code")]
    pub code: String,
    #[serde(rename = "Message")]
    pub message: String,
}

#[derive(Debug, Serialize)]
#[serde(rename = "InitiateMultipartUploadResult")]
pub struct InitiateMultipartUploadResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    #[serde(rename = "Bucket")]
    pub bucket: String,
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "UploadId")]
    pub upload_id: String,
}

/// The CompleteMultipartUpload request.
#[derive(Debug, Deserialize)]
pub struct CompleteMultipartUpload {
    #[serde(rename = "Part", default)]
    pub parts: Vec<CompletedPart>,
}

#[derive(Debug, Deserialize)]
pub struct CompletedPart {
    #[serde(rename = "PartNumber")]
    pub part_number: u32,
    #[serde(rename = "ETag")]
    pub etag: String,
}

#[derive(Debug, Serialize)]
#[serde(rename = "CompleteMultipartUploadResult")]
pub struct CompleteMultipartUploadResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    #[serde(rename = "Location")]
    pub location: String,
    #[serde(rename = "Bucket")]
    pub bucket: String,
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "ETag")]
    pub etag: String,
}

#[derive(Debug, Serialize)]
#[serde(rename = "ListPartsResult")]
pub struct ListPartsResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    #[serde(rename = "Bucket")]
    pub bucket: String,
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "UploadId")]
    pub upload_id: String,
    #[serde(rename = "PartNumberMarker")]
    pub part_number_marker: u32,
    #[serde(rename = "NextPartNumberMarker")]
    pub next_part_number_marker: u32,
    #[serde(rename = "MaxParts")]
    pub max_parts: usize,
    #[serde(rename = "IsTruncated")]
    pub is_truncated: bool,
    #[serde(rename = "Part")]
    pub parts: Vec<Part>,
    #[serde(rename = "StorageClass")]
    pub storage_class: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Part {
    #[serde(rename = "PartNumber")]
    pub part_number: u32,
    #[serde(rename = "LastModified")]
    pub last_modified: String,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "Size")]
    pub size: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename = "ListMultipartUploadsResult")]
pub struct ListMultipartUploadsResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    #[serde(rename = "Bucket")]
    pub bucket: String,
    #[serde(rename = "KeyMarker")]
    pub key_marker: String,
    #[serde(rename = "UploadIdMarker")]
    pub upload_id_marker: String,
    #[serde(rename = "MaxUploads")]
    pub max_uploads: usize,
    #[serde(rename = "IsTruncated")]
    pub is_truncated: bool,
    #[serde(rename = "Upload")]
    pub uploads: Vec<Upload>,
}

#[derive(Debug, Serialize)]
pub struct Upload {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "UploadId")]
    pub upload_id: String,
    #[serde(rename = "Initiated")]
    pub initiated: String,
    #[serde(rename = "StorageClass")]
    pub storage_class: &'static str,
}

/// ISO 8601 with milliseconds, UTC, as S3 writes times in XML
/// (`2026-12-05T06:30:00.000Z`), from milliseconds since the Unix epoch.
pub fn iso8601(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_s3_writes_them() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_369_353_600_123), "2013-05-24T00:00:00.123Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn answers_are_s3_xml() {
        let r = ListBucketResult {
            xmlns: XMLNS,
            name: "b".into(),
            max_keys: 1000,
            contents: vec![Object {
                key: "a&b".into(),
                last_modified: iso8601(0),
                etag: "\"x\"".into(),
                size: 3,
                storage_class: "STANDARD",
            }],
            common_prefixes: vec![CommonPrefix {
                prefix: "d/".into(),
            }],
            ..Default::default()
        };
        let x = to_xml(&r).unwrap();
        assert!(
            x.contains("<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"),
            "{x}"
        );
        assert!(x.contains("<Key>a&amp;b</Key>"), "{x}");
        assert!(
            x.contains("<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes>"),
            "{x}"
        );
        assert!(!x.contains("NextMarker"), "{x}");
    }

    #[test]
    fn requests_parse_and_bad_ones_are_malformed_xml() {
        let d: Delete = from_xml(
            b"<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Object><Key>a</Key></Object><Object><Key>b/c</Key></Object><Quiet>true</Quiet></Delete>",
        )
        .unwrap();
        assert_eq!(d.objects.len(), 2);
        assert!(d.quiet);
        let c: CompleteMultipartUpload = from_xml(
            b"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>\"e\"</ETag></Part></CompleteMultipartUpload>",
        )
        .unwrap();
        assert_eq!(c.parts[0].part_number, 2);
        for bad in [
            &b"<Delete><Object><Key>a</Key>"[..],
            b"not xml",
            b"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">]><Delete><Object><Key>&lol;</Key></Object></Delete>",
            b"\xff\xfe",
        ] {
            let e = from_xml::<Delete>(bad).unwrap_err();
            assert_eq!(e.code, "MalformedXML", "{e}");
        }
    }
}
