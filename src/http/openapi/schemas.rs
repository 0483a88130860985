//! Schemas the document shares: small constructors for parameters and bodies, the error
//! envelope, and the wire shapes derived from the model types (a resource's document, its
//! merge patch, a page of it).

use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, KnownFormat, Object, ObjectBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::model::{Timestamp, UserId};

/// A `$ref` to a schema of the document's components.
pub fn reference(name: &str) -> RefOr<Schema> {
    Ref::from_schema_name(name).into()
}

pub fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

pub fn uuid() -> ObjectBuilder {
    string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
}

pub fn boolean() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Boolean)
}

/// An integer within `minimum..=maximum`.
pub fn integer(minimum: u64, maximum: Option<u64>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(minimum as f64))
        .maximum(maximum.map(|maximum| maximum as f64))
}

/// A string that is one of `values`.
pub fn one_of(values: &[&str]) -> ObjectBuilder {
    string().enum_values(Some(values.iter().copied()))
}

/// Any JSON value.
pub fn any() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::AnyValue)
}

pub fn array(items: impl Into<RefOr<Schema>>) -> ArrayBuilder {
    ArrayBuilder::new().items(items.into())
}

/// `T` and every schema it refers to, for the document's components.
pub fn with_dependencies<T: ToSchema>() -> Vec<(String, RefOr<Schema>)> {
    let mut schemas = vec![(T::name().into_owned(), T::schema())];
    T::schemas(&mut schemas);
    schemas
}

/// The object schema a derive produced.
fn object_of<T: ToSchema>() -> Object {
    match T::schema() {
        RefOr::T(Schema::Object(object)) => object,
        _ => panic!("{} must derive an object schema", T::name()),
    }
}

/// `object` with the properties `first` in front; `required` lists those of `first` that are
/// required. Everything else (examples, `additionalProperties`, ...) stays as it was.
fn extend(mut object: Object, first: Vec<(&str, RefOr<Schema>)>, required: &[&str]) -> Object {
    let own = std::mem::take(&mut object.properties);
    for (name, schema) in first {
        object.properties.insert(name.to_owned(), schema);
    }
    object.properties.extend(own);
    let own_required = std::mem::take(&mut object.required);
    object.required = required
        .iter()
        .map(|name| name.to_string())
        .chain(own_required)
        .collect();
    object
}

fn read_only(builder: ObjectBuilder) -> RefOr<Schema> {
    builder.read_only(true).into()
}

/// `T`'s schema in place (not as a `$ref`, which could not say read-only), marked read-only.
pub fn inline_read_only<T: PartialSchema>() -> RefOr<Schema> {
    match T::schema() {
        RefOr::T(Schema::Object(mut object)) => {
            object.read_only = Some(true);
            object.into()
        }
        other => other,
    }
}

/// The fields every stored document has, set by the server.
fn document_fields() -> Vec<(&'static str, RefOr<Schema>)> {
    vec![
        (
            "id",
            read_only(uuid().description(Some("UUIDv7, assigned on create"))),
        ),
        ("userId", inline_read_only::<UserId>()),
        ("createdAt", inline_read_only::<Timestamp>()),
        ("updatedAt", inline_read_only::<Timestamp>()),
        (
            "version",
            read_only(
                integer(1, None).description(Some("1 on create, +1 on every change; the ETag")),
            ),
        ),
    ]
}

const DOCUMENT_FIELDS: &[&str] = &["id", "userId", "createdAt", "updatedAt", "version"];

/// A stored document of `T`: the server-owned fields (read-only, so a request body leaves them
/// out) followed by the resource's own fields. `extra` adds more server-owned fields.
pub fn document_schema<T: ToSchema>(
    extra: Vec<(&str, RefOr<Schema>)>,
    required: &[&str],
) -> Schema {
    let mut first = document_fields();
    first.extend(extra);
    let required: Vec<&str> = DOCUMENT_FIELDS.iter().chain(required).copied().collect();
    Schema::Object(extend(object_of::<T>(), first, &required))
}

/// A JSON merge patch (RFC 7396) of `T`: its fields, none required; `null` removes one.
pub fn patch_schema<T: ToSchema>() -> Schema {
    let mut object = object_of::<T>();
    object.required.clear();
    object.description = Some(format!(
        "A JSON merge patch (RFC 7396) of a {}: the fields to change; `null` removes an \
         optional field. Server-owned fields are refused (400).",
        T::name()
    ));
    Schema::Object(object)
}

/// `{items, nextCursor, total?}`: a page of a collection.
pub fn page_schema(item: &str) -> Schema {
    ObjectBuilder::new()
        .property("items", array(reference(item)))
        .property(
            "nextCursor",
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .description(Some("pass as `cursor` for the next page; null on the last")),
        )
        .property(
            "total",
            integer(0, None).description(Some("with `includeTotal=true`: every match")),
        )
        .required("items")
        .required("nextCursor")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .into()
}

/// The envelope of every error: `{"error": {"code", "message", "details"}}`.
pub fn error_envelope(codes: &[&str]) -> Schema {
    let body = ObjectBuilder::new()
        .property("code", one_of(codes))
        .property("message", string())
        .property(
            "details",
            ArrayBuilder::new()
                .items(reference("FieldError"))
                .description(Some(
                    "always an array: the fields at fault, each {field, message} with extra \
                     keys where they help (existingId on a 409); empty when no field is",
                )),
        )
        .required("code")
        .required("message")
        .required("details")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    ObjectBuilder::new()
        .property("error", body)
        .required("error")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .into()
}

/// The schemas every document refers to.
pub fn common() -> Vec<(String, RefOr<Schema>)> {
    let mut schemas = with_dependencies::<Timestamp>();
    schemas.extend(with_dependencies::<UserId>());
    schemas.extend(with_dependencies::<crate::model::FieldError>());
    schemas.push((
        "ErrorEnvelope".to_owned(),
        error_envelope(crate::error::ERROR_CODES).into(),
    ));
    schemas
}
