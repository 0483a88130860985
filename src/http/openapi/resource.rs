//! The operations of the document routes every collection shares, produced from the resource
//! type itself: its collection name, its schema (`ToSchema`) and the filters its list accepts
//! (`HttpResource::LIST`), the same values the handlers run on.

use utoipa::openapi::{RefOr, Schema};

use super::{Op, boolean, integer, one_of, page_schema, patch_schema, string, uuid};
use crate::http::list::{
    CATEGORIES, FieldKind, HttpResource, LINK_KINDS, ListExtras, ListSpec, MAX_LIMIT,
};

const UUID_PATTERN: &str =
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

/// The five operations of `/api/{collection}` and `/api/{collection}/{id}`, in the order
/// list, create, get, update, delete.
pub struct DocumentOps {
    pub list: Op,
    pub create: Op,
    pub get: Op,
    pub update: Op,
    pub delete: Op,
}

/// Names used in a resource's schemas and operation ids: `Character`, `characters`.
fn names<R: HttpResource>() -> (String, &'static str) {
    (R::name().into_owned(), R::COLLECTION.name())
}

pub fn document_ops<R: HttpResource>() -> DocumentOps {
    let (name, collection) = names::<R>();
    let lower = name.to_lowercase();
    let id = |what: &str| format!("the {lower}'s id{what}");
    let new_id: &[(&str, &str)] = &[("id", "$response.body#/id")];
    let own = [
        format!("get{name}"),
        format!("update{name}"),
        format!("delete{name}"),
    ];
    let linked: Vec<(&str, &[(&str, &str)])> = own
        .iter()
        .map(String::as_str)
        .chain(R::RELATED_OPERATIONS.iter().copied())
        .map(|operation| (operation, new_id))
        .collect();
    DocumentOps {
        list: list_params(
            Op::new(
                format!("list{name}s"),
                collection,
                format!("List {collection}"),
            ),
            &R::LIST,
            &R::LIST_EXTRAS,
        )
        .json(200, "a page", super::reference(&format!("{name}Page"))),
        create: Op::new(
            format!("create{name}"),
            collection,
            format!("Create a {lower}"),
        )
        .json_body(super::reference(&name), true)
        .document(201, "created", &name)
        .links(201, &linked)
        .errors(&[409]),
        get: Op::new(format!("get{name}"), collection, format!("Read a {lower}"))
            .path_id("id", &id(""))
            .document(200, "the document", &name),
        update: Op::new(
            format!("update{name}"),
            collection,
            format!("Change a {lower} (JSON merge patch)"),
        )
        .path_id("id", &id(""))
        .if_match()
        .merge_patch_body(&format!("{name}Patch"))
        .document(200, "the changed document", &name)
        .errors(&[409]),
        delete: Op::new(
            format!("delete{name}"),
            collection,
            format!("Delete a {lower}"),
        )
        .path_id("id", &id(""))
        .if_match()
        .empty(
            204,
            "deleted; ids of it are removed from the documents naming it",
        )
        .errors(&[409]),
    }
}

/// The schemas `document_ops` refers to: the resource (a stored document), its patch and a
/// page of it, and what they refer to.
pub fn document_schemas<R: HttpResource>() -> Vec<(String, RefOr<Schema>)> {
    let (name, _) = names::<R>();
    let mut schemas = super::with_dependencies::<R>();
    schemas.retain(|(schema, _)| *schema != name);
    schemas.push((
        name.clone(),
        super::document_schema::<R>(Vec::new(), &[]).into(),
    ));
    schemas.push((format!("{name}Patch"), patch_schema::<R>().into()));
    schemas.push((format!("{name}Page"), page_schema(&name).into()));
    schemas
}

/// The query parameters of a list with the filters of `spec`.
pub fn list_params(op: Op, spec: &ListSpec, extras: &ListExtras) -> Op {
    let mut sorts = vec![
        "updatedAt",
        "-updatedAt",
        "name",
        "-name",
        "title",
        "-title",
    ];
    let descending: Vec<String> = extras.sorts.iter().map(|sort| format!("-{sort}")).collect();
    for (sort, reverse) in extras.sorts.iter().zip(&descending) {
        sorts.push(sort);
        sorts.push(reverse);
    }
    let mut op = op
        .query(
            "limit",
            integer(1, Some(MAX_LIMIT as u64)),
            "page size, default 50",
        )
        .query(
            "cursor",
            string(),
            "the `nextCursor` of the previous page (opaque)",
        )
        .query(
            "sort",
            one_of(&sorts),
            "default `-updatedAt`; `title` is an alias of `name`",
        )
        .query(
            "includeTotal",
            boolean(),
            "add `total`, the number of matches",
        );
    if !spec.text_fields.is_empty() {
        let fields = spec.text_fields.join(", ");
        op = op.query(
            "q",
            string(),
            &format!("case-insensitive substring of {fields}"),
        );
    }
    if spec.tag {
        op = op.query("tag", uuid(), "only documents holding this tag id");
    }
    if spec.favorite {
        op = op.query("favorite", boolean(), "only favorites, or only the others");
    }
    if spec.participants {
        op = op
            .query(
                "characterId",
                uuid(),
                "chats with a participant naming this character",
            )
            .query(
                "personaId",
                uuid(),
                "chats with a participant naming this persona",
            );
    }
    for field in extras.fields {
        let schema = match field.kind {
            FieldKind::Id => uuid(),
            FieldKind::OneOf(words) => one_of(words),
            FieldKind::Text => string().min_length(Some(1)),
        };
        op = op.query(field.name, schema, field.description);
    }
    if spec.files {
        op = op
            .query(
                "category",
                one_of(CATEGORIES),
                "only files of this category",
            )
            .query(
                "linkedTo",
                string().pattern(Some(format!("^({}):{UUID_PATTERN}$", LINK_KINDS.join("|")))),
                "`<kind>:<id>`: only files linked to this document",
            )
            .query(
                "mimePrefix",
                string().min_length(Some(1)),
                "only files whose type starts with this, e.g. `image/`",
            );
    }
    op
}
