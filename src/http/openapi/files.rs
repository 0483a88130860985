//! The operations and schemas of the file routes (`files/`): a multipart upload, binary
//! downloads with ranges and conditional requests, metadata, deletion and signed links.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema};
use utoipa::openapi::{Content, RefOr, Required};

use super::resource::list_params;
use super::{
    Access, Op, boolean, document_schema, inline_read_only, integer, one_of, page_schema,
    patch_schema, reference, string, with_dependencies,
};
use crate::http::list::{CATEGORIES, ListSpec};
use crate::model::Timestamp;
use crate::model::file::File;

pub use super::uploads::{complete_upload, create_upload, put_upload};

const TAG: &str = "files";

/// The schemas the file operations refer to; `url_request` is the body of a signed-link request.
pub fn schemas(url_request: Vec<(String, RefOr<Schema>)>) -> Vec<(String, RefOr<Schema>)> {
    let mut schemas = with_dependencies::<File>();
    // `storage` (backend and key) stays in the record: no client sees it.
    schemas.retain(|(name, _)| name != "File" && name != "StorageRef");
    let mut signed_url = utoipa::openapi::Ref::from_schema_name("SignedUrl");
    signed_url.description = "with `signedUrls=true` only: a ready signed link to the content \
         (default lifetime, the same URL throughout its window)"
        .to_owned();
    let signed_url = ("signedUrl", RefOr::Ref(signed_url));
    let mut file = document_schema::<File>(vec![signed_url], &[]);
    if let Schema::Object(object) = &mut file {
        object.properties.shift_remove("storage");
        object.required.retain(|field| field != "storage");
    }
    schemas.push(("File".to_owned(), file.into()));
    let mut patch = patch_schema::<File>();
    if let Schema::Object(object) = &mut patch {
        object.properties.shift_remove("storage");
    }
    schemas.push(("FilePatch".to_owned(), patch.into()));
    schemas.push(("FilePage".to_owned(), page_schema("File").into()));
    let upload = ObjectBuilder::new()
        .property(
            "file",
            string()
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Binary,
                )))
                .description(Some("the bytes; its file name is kept, sanitized")),
        )
        .property("category", one_of(CATEGORIES))
        .property(
            "source",
            one_of(&["upload", "generated", "imported", "system"]),
        )
        .property(
            "description",
            string().max_length(Some(File::MAX_DESCRIPTION)),
        )
        .property(
            "tags",
            string().description(Some("tag ids: a JSON array or a comma-separated list")),
        )
        .property(
            "linkedTo",
            string().description(Some(
                "links: a JSON array of {kind, id} or `kind:id` separated by commas",
            )),
        )
        .required("file")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .description(Some("Text parts should come before the `file` part."));
    schemas.push(("FileUpload".to_owned(), upload.into()));
    let signed = ObjectBuilder::new()
        .property(
            "url",
            string().description(Some(
                "usable without auth (`<img src>`): a path on this service, absolute on \
                 `PUBLIC_BASE_URL` when that is set. The same file, user, variant and lifetime \
                 give the same URL within a window (the lifetime, at most 5 minutes), and \
                 what it serves carries `Cache-Control: private, max-age=<the link's \
                 remaining life>, immutable`",
            )),
        )
        .property("expiresAt", inline_read_only::<Timestamp>())
        .required("url")
        .required("expiresAt")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    schemas.push(("SignedUrl".to_owned(), signed.into()));
    schemas.extend(url_request);
    schemas.extend(super::uploads::schemas());
    schemas
}

/// The variant a ready `signedUrl` links, for image files (others get their content).
fn ready_link_variant(op: Op) -> Op {
    let side = || integer(1, Some(u64::from(crate::config::MAX_VARIANT_SIDE)));
    op.query(
        "w",
        side(),
        "with `signedUrls=true`: image files' `signedUrl` links this variant (width, one of \
         `IMAGE_VARIANT_SIZES`); other files' links their content",
    )
    .query("h", side(), "with `signedUrls=true`: the variant's height")
    .query(
        "fit",
        one_of(&["cover", "contain"]),
        "with `signedUrls=true`: the variant's fit",
    )
    .query(
        "format",
        one_of(&["webp", "jpeg", "png"]),
        "with `signedUrls=true`: the variant's encoding",
    )
}

fn file(op: Op) -> Op {
    op.path_id("id", "the file's id")
}

pub fn list(spec: &ListSpec) -> Op {
    let op = list_params(
        Op::new("listFiles", TAG, "List files"),
        spec,
        &crate::http::list::ListExtras::NONE,
    )
    .query(
        "signedUrls",
        boolean(),
        "each item carries `signedUrl`, a ready link to its content (no `POST .../url` per \
         file)",
    );
    ready_link_variant(op).json(200, "a page", reference("FilePage"))
}

pub fn upload() -> Op {
    let body = RequestBodyBuilder::new()
        .required(Some(Required::True))
        .content(
            "multipart/form-data",
            Content::new(Some(reference("FileUpload"))),
        )
        .build();
    Op::new("uploadFile", TAG, "Upload a file (multipart, streamed)")
        .describe(
            "The type is sniffed from the content; a declared type that contradicts it, or a \
             type outside `ALLOWED_MIME_TYPES`, is a 415. Over `MAX_UPLOAD_SIZE` is a 413. A \
             body that stalls for `UPLOAD_IDLE_TIMEOUT_SECS` is a 408.",
        )
        .body(body)
        .response(
            201,
            super::json_response("the file's metadata", reference("File"))
                .header(
                    "ETag",
                    text_header(
                        "`\"<sha256>\"`: the ETag of `Location` (the content), which \
                         `DELETE /api/files/{id}` takes in `If-Match`; the metadata's ETag is \
                         its `version` (`GET`/`PATCH .../metadata`)",
                    ),
                )
                .header("Location", text_header("`/api/files/{id}`, the content")),
        )
        .links(
            201,
            &[
                "getFile",
                "headFile",
                "getFileMetadata",
                "updateFileMetadata",
                "createFileUrl",
                "deleteFile",
            ]
            .map(|operation| (operation, &[("id", "$response.body#/id")][..])),
        )
        .errors(&[400, 408, 413, 415, 422])
}

fn text_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(string()))
        .description(Some(description))
        .build()
}

/// The bytes: any type, with the headers every download carries.
fn bytes_response(description: &str, partial: bool) -> ResponseBuilder {
    let mut response = ResponseBuilder::new()
        .description(description)
        .content(
            "*/*",
            Content::new(Some(string().format(Some(
                utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Binary),
            )))),
        )
        .header("ETag", text_header("`\"<sha256>\"`"))
        .header("Accept-Ranges", text_header("`bytes`"))
        .header(
            "Content-Disposition",
            text_header("`inline` for passive types, else `attachment` (sandboxed)"),
        );
    if partial {
        response = response.header("Content-Range", text_header("`bytes <start>-<end>/<size>`"));
    }
    response
}

fn download(op: Op) -> Op {
    file(op)
        .access(Access::UserOrSignedLink)
        .query(
            "user",
            string(),
            "signed link: the user (from `POST .../url`)",
        )
        .query("expires", string(), "signed link: the expiry, Unix seconds")
        .query("signature", string(), "signed link: the signature")
        .query(
            "w",
            integer(1, Some(u64::from(crate::config::MAX_VARIANT_SIDE))),
            "image variant: width in pixels, one of `IMAGE_VARIANT_SIZES` (another size is a \
             400 listing them); with `w`, `h`, `fit` or `format` an image file is served \
             resized, upright (EXIF orientation applied), first frame only, without metadata, \
             made once and then served from the store (`X-Variant-Cache: hit|miss`)",
        )
        .query(
            "h",
            integer(1, Some(u64::from(crate::config::MAX_VARIANT_SIDE))),
            "image variant: height in pixels, one of `IMAGE_VARIANT_SIZES`",
        )
        .query(
            "fit",
            one_of(&["cover", "contain"]),
            "image variant with both sides: `cover` (default) fills the box, cropping the \
             middle; `contain` fits inside it. A variant is never larger than its original",
        )
        .query(
            "format",
            one_of(&["webp", "jpeg", "png"]),
            "image variant: the encoding (default `webp`)",
        )
        .header(
            "Range",
            Some("^bytes=([0-9]{1,12}-[0-9]{0,12}|-[0-9]{1,12})$"),
            "one range, e.g. `bytes=0-99`, `bytes=500-`, `bytes=-500`; several ranges, or a \
             malformed one, get the whole file",
        )
        .header(
            "If-Range",
            None,
            "serve the range only while the ETag is this one",
        )
        .header("If-None-Match", None, "304 when it names the ETag (or `*`)")
        .response(200, bytes_response("the whole file", false))
        .response(206, bytes_response("the requested range", true))
        .response(
            302,
            ResponseBuilder::new()
                .description(
                    "on S3, a file over `FILES_REDIRECT_THRESHOLD`: a presigned GET of the \
                     object (or `S3_PUBLIC_URL`) with the same type and disposition",
                )
                .header("Location", text_header("where the bytes are")),
        )
        .response(
            304,
            ResponseBuilder::new()
                .description("not modified")
                .header("ETag", text_header("`\"<sha256>\"`")),
        )
        .errors(&[415, 416, 422])
}

pub fn get() -> Op {
    download(Op::new("getFile", TAG, "Download a file"))
}

pub fn head() -> Op {
    download(Op::new(
        "headFile",
        TAG,
        "The headers of a download, without the bytes",
    ))
}

pub fn delete() -> Op {
    file(Op::new("deleteFile", TAG, "Delete a file"))
        .header(
            "If-Match",
            Some(r#"^(\*|"[0-9a-f]{64}")$"#),
            "the ETag of this URL, `\"<sha256>\"` as a `GET` of the content returned (or \
             `*`); another one is a 412 whose `ETag` is the current one",
        )
        .errors(&[400, 412])
        .empty(
            204,
            "deleted; its id is removed from the documents naming it",
        )
        .errors(&[409])
}

pub fn get_metadata() -> Op {
    let op = file(Op::new("getFileMetadata", TAG, "Read a file's metadata")).query(
        "signedUrls",
        boolean(),
        "the metadata carries `signedUrl`, a ready link to the content",
    );
    ready_link_variant(op).document(200, "the metadata", "File")
}

pub fn update_metadata() -> Op {
    file(Op::new(
        "updateFileMetadata",
        TAG,
        "Change a file's metadata (JSON merge patch)",
    ))
    .if_match()
    .merge_patch_body("FilePatch")
    .document(200, "the changed metadata", "File")
    .errors(&[409])
}

pub fn create_url() -> Op {
    file(Op::new("createFileUrl", TAG, "A signed link to the file"))
        .describe(
            "The link serves `GET`/`HEAD` of this one file without an auth header; with \
             `variant`, of that one image variant only (the signature covers it).",
        )
        .json_body(reference("UrlRequest"), false)
        .json(200, "the link", reference("SignedUrl"))
        .errors(&[415])
}
