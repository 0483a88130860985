//! The operations and schemas of direct uploads (`files/direct.rs`): ask where to put the
//! bytes, put them (the fs store's signed PUT; on S3 the client uses the presigned URL, which
//! is no route of ours, though this PUT works there too), complete.

use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema};
use utoipa::openapi::{Content, RefOr, Required};

use super::{Access, Op, inline_read_only, integer, one_of, reference, string};
use crate::http::list::CATEGORIES;
use crate::model::Timestamp;

const TAG: &str = "files";

pub fn schemas() -> Vec<(String, RefOr<Schema>)> {
    let request = ObjectBuilder::new()
        .property(
            "filename",
            string().description(Some("the file's name; kept sanitized")),
        )
        .property(
            "mimeType",
            string().description(Some("must be in `ALLOWED_MIME_TYPES`")),
        )
        .property(
            "size",
            integer(0, None).description(Some("exact byte count, at most `MAX_UPLOAD_SIZE`")),
        )
        .property("category", one_of(CATEGORIES))
        .property(
            "sha256",
            string()
                .pattern(Some("^[0-9a-fA-F]{64}$"))
                .description(Some(
                    "SHA-256 of the bytes, hex; the store then verifies it",
                )),
        )
        .required("filename")
        .required("mimeType")
        .required("size")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    let answer = ObjectBuilder::new()
        .property("uploadId", super::uuid())
        .property(
            "url",
            string().description(Some(
                "where to send the bytes: a presigned S3 URL, or a path of this service (fs)",
            )),
        )
        .property("method", one_of(&["PUT"]))
        .property(
            "headers",
            ObjectBuilder::new()
                .additional_properties(Some(AdditionalProperties::RefOr(string().into())))
                .description(Some("headers to send as they are (they are signed)")),
        )
        .property("expiresAt", inline_read_only::<Timestamp>())
        .required("uploadId")
        .required("url")
        .required("method")
        .required("headers")
        .required("expiresAt")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    vec![
        ("UploadRequest".to_owned(), request.into()),
        ("DirectUpload".to_owned(), answer.into()),
    ]
}

pub fn create_upload() -> Op {
    Op::new(
        "createUpload",
        TAG,
        "Ask for a direct upload (the bytes go straight to the store)",
    )
    .describe(
        "Then send `method` `url` with `headers` and the bytes, and complete the upload. A type \
         outside `ALLOWED_MIME_TYPES` is a 415, a size over `MAX_UPLOAD_SIZE` a 413.",
    )
    .json_body(reference("UploadRequest"), true)
    .json(201, "where to put the bytes", reference("DirectUpload"))
    .links(
        201,
        &[
            ("putUpload", &[("id", "$response.body#/uploadId")][..]),
            ("completeUpload", &[("id", "$response.body#/uploadId")][..]),
        ],
    )
    .errors(&[400, 413, 415, 422])
}

pub fn put_upload() -> Op {
    let body = RequestBodyBuilder::new()
        .required(Some(Required::True))
        .content(
            "application/octet-stream",
            Content::new(Some(string().format(Some(
                utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Binary),
            )))),
        )
        .build();
    Op::new("putUpload", TAG, "Put the bytes of a direct upload")
        .describe(
            "The `url` of a direct upload on the fs store (signed: no auth header needed); the \
             bearer token of the upload's user works too. At most the announced size.",
        )
        .access(Access::UserOrSignedLink)
        .path_id("id", "the upload's id")
        .query("user", string(), "signed URL: the user")
        .query("expires", string(), "signed URL: the expiry, Unix seconds")
        .query("signature", string(), "signed URL: the signature")
        .body(body)
        .empty(204, "stored; now complete the upload")
        .errors(&[400, 404, 408, 409, 413])
}

pub fn complete_upload() -> Op {
    Op::new("completeUpload", TAG, "Complete a direct upload")
        .describe(
            "Checks the bytes (present, size, SHA-256 when announced, sniffed type) and records \
             the file like `POST /api/files`. No bytes yet: 409; other bytes than announced: \
             422 or 415 (the upload is then removed).",
        )
        .path_id("id", "the upload's id")
        .document(201, "the file's metadata", "File")
        .errors(&[404, 409, 415, 422])
}
