//! `POST /api/characters/import`: a card as PNG/APNG, JSON or CharX becomes a character with
//! its lorebook, its avatar and embedded assets as files, and its tags (by name: the user's
//! existing tags reused, missing ones created). All or nothing: everything is read and checked
//! before the first write, and a failure after it removes what this import wrote.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::ready;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::body::{self, ImportBody};
use crate::accounts::quota::Needs;
use crate::blob::BlobKey;
use crate::cards::card::{self, ImportedCard};
use crate::cards::{CardError, charx, json_object, png};
use crate::error::{ApiError, Result};
use crate::files::FileStores;
use crate::files::content::{HEAD_LEN, image_dimensions, resolve_type};
use crate::files::names::sanitize_filename;
use crate::files::registration::{PendingBlob, register_file};
use crate::files::removal::remove_file;
use crate::http::AppState;
use crate::http::extract::CurrentUser;
use crate::http::resource::{check_fields, document_response, insert, insert_with_id, parse};
use crate::model::character::Character;
use crate::model::file::{File, FileCategory, FileLink, FileSource, LinkKind, StorageRef};
use crate::model::lorebook::Lorebook;
use crate::model::tag::Tag;
use crate::model::{Collection, Document, UserId, ids};
use crate::store::{Filter, ListQuery, SortField};

/// The longest tag name (longer card tags are cut).
const TAG_NAME_LENGTH: usize = 50;

pub async fn import_character(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    request: Request,
) -> Result<Response> {
    let body = body::read(&state, request).await?;
    let plan = plan(&state, body)?;
    // Once the first write happened the import runs to its end (or is undone) even if the
    // request goes away, so a disconnect never leaves half a character behind.
    let task = tokio::spawn(store(state.clone(), user.clone(), plan));
    let character = task
        .await
        .map_err(|error| ApiError::Internal(anyhow::anyhow!("import task failed: {error}")))??;
    Ok(document_response(
        StatusCode::CREATED,
        &character,
        Some("/api/characters"),
    ))
}

/// A file to create: its bytes, name and category, and where the character names it.
struct PlannedFile {
    bytes: Vec<u8>,
    filename: String,
    category: FileCategory,
    /// The index in the character's `assets`, for an asset.
    asset: Option<usize>,
    /// Whether it is the character's avatar (`defaultImageId`).
    avatar: bool,
}

/// Everything an import writes, read and checked.
struct Plan {
    card: ImportedCard,
    files: Vec<PlannedFile>,
}

/// Reads the import and checks the character and lorebook, writing nothing.
fn plan(state: &AppState, body: ImportBody) -> Result<Plan> {
    let limit = state.config.max_import_bytes;
    let bytes = &body.bytes;
    let mut files = Vec::new();
    let card = if png::is_png(bytes) {
        let card = json_object(&png::read_card(bytes, limit)?, "card")?;
        files.push(PlannedFile {
            bytes: png::strip_cards(bytes)?,
            filename: body
                .filename
                .clone()
                .unwrap_or_else(|| "avatar.png".to_owned()),
            category: FileCategory::Avatar,
            asset: None,
            avatar: true,
        });
        card::import(card)?
    } else if charx::is_zip(bytes) {
        let archive = charx::read(bytes, limit)?;
        let imported = card::import(json_object(&archive.card, charx::CARD_PATH)?)?;
        files = embedded_files(&imported, archive.assets);
        imported
    } else if bytes.trim_ascii_start().starts_with(b"{")
        || bytes.trim_ascii_start().starts_with(b"[")
    {
        card::import(json_object(bytes, "card")?)?
    } else {
        return Err(CardError::UnknownFormat(
            "expected a character card: a PNG with a `ccv3` or `chara` chunk, card JSON, or a \
             CharX zip"
                .to_owned(),
        )
        .into());
    };
    check_fields::<Character>(&card.character)?;
    parse::<Character>(card.character.clone())?;
    if let Some(lorebook) = &card.lorebook {
        parse::<Lorebook>(lorebook.clone())
            .map_err(|error| prefixed("data.character_book", error))?;
    }
    Ok(Plan { card, files })
}

/// Names the part of the card a lorebook problem is in.
fn prefixed(prefix: &str, error: ApiError) -> ApiError {
    match error {
        ApiError::Validation(fields) => ApiError::Validation(
            fields
                .into_iter()
                .map(|field| {
                    crate::error::FieldError::new(
                        format!("{prefix}.{}", field.field),
                        field.message,
                    )
                })
                .collect(),
        ),
        other => other,
    }
}

/// The files of a CharX's `embeded://` assets; the main icon (or the first icon) is also the
/// avatar.
fn embedded_files(card: &ImportedCard, contents: HashMap<String, Vec<u8>>) -> Vec<PlannedFile> {
    let assets = card.character.get("assets").and_then(Value::as_array);
    let mut files: Vec<PlannedFile> = Vec::new();
    for (index, asset) in assets.into_iter().flatten().enumerate() {
        let text = |key: &str| asset.get(key).and_then(Value::as_str).unwrap_or_default();
        let Some(path) = text("uri").strip_prefix(charx::EMBEDDED) else {
            continue;
        };
        // Two assets naming one path share its bytes; the archive holds them once.
        let bytes = contents.get(path).cloned().unwrap_or_default();
        let icon = text("type") == "icon";
        files.push(PlannedFile {
            bytes,
            filename: format!("{}.{}", text("name"), text("ext")),
            category: if icon {
                FileCategory::Avatar
            } else {
                FileCategory::Image
            },
            asset: Some(index),
            avatar: false,
        });
    }
    let main = files
        .iter()
        .position(|file| {
            file.category == FileCategory::Avatar && file.filename.starts_with("main.")
        })
        .or_else(|| {
            files
                .iter()
                .position(|file| file.category == FileCategory::Avatar)
        });
    if let Some(main) = main {
        files[main].avatar = true;
    }
    files
}

/// What an import wrote so far, removed again if a later step fails.
#[derive(Default)]
struct Written {
    tags: Vec<Uuid>,
    lorebook: Option<Uuid>,
    files: Vec<Uuid>,
}

async fn store(state: AppState, user: UserId, plan: Plan) -> Result<Document> {
    let mut written = Written::default();
    let stored = store_steps(&state, &user, plan, &mut written).await;
    if stored.is_err() {
        undo(&state, &user, written).await;
    }
    stored
}

async fn store_steps(
    state: &AppState,
    user: &UserId,
    plan: Plan,
    written: &mut Written,
) -> Result<Document> {
    // The card's files are within the quotas like uploads, reserved together before anything
    // is written (one check, not one per file), and held until their records are stored.
    // Their ids are not known yet: a concurrent check counts them whole until then.
    let needs = Needs {
        bytes: Some(plan.files.iter().map(|file| file.bytes.len() as u64).sum()),
        files: plan.files.len() as u64,
        file: None,
    };
    let _room = match needs.files {
        0 => None,
        _ => Some(
            state
                .quotas
                .reserve(&state.store, user, needs, u64::MAX)
                .await?,
        ),
    };
    let mut character = plan.card.character;
    let mut tag_ids = Vec::new();
    for name in &plan.card.tag_names {
        let id = tag_id(state, user, name, &mut written.tags).await?;
        if !tag_ids.contains(&id) {
            tag_ids.push(id);
        }
    }
    character.insert("tags".to_owned(), json!(tag_ids));
    if let Some(lorebook) = plan.card.lorebook {
        let stored = insert::<Lorebook>(state, user, lorebook).await?;
        written.lorebook = Some(stored.id);
        character.insert("lorebookId".to_owned(), json!(stored.id));
    }
    let character_id = ids::new_id();
    for file in plan.files {
        let (asset, avatar) = (file.asset, file.avatar);
        let id = store_file(state, user, character_id, file).await?;
        written.files.push(id);
        if avatar {
            character.insert("defaultImageId".to_owned(), json!(id));
        }
        if let Some(Value::Object(asset)) = asset.and_then(|index| {
            character
                .get_mut("assets")
                .and_then(Value::as_array_mut)
                .and_then(|assets| assets.get_mut(index))
        }) {
            asset.insert("fileId".to_owned(), json!(id));
        }
    }
    insert_with_id::<Character>(state, user, character_id, character).await
}

/// The id of the user's tag with this name (ignoring case), created when there is none.
async fn tag_id(
    state: &AppState,
    user: &UserId,
    name: &str,
    created: &mut Vec<Uuid>,
) -> Result<Uuid> {
    let name: String = name
        .chars()
        .take(TAG_NAME_LENGTH)
        .collect::<String>()
        .trim()
        .to_owned();
    if let Some(id) = find_tag(state, user, &name).await? {
        return Ok(id);
    }
    let mut body = Map::new();
    body.insert("name".to_owned(), json!(name));
    match insert::<Tag>(state, user, body).await {
        Ok(tag) => {
            created.push(tag.id);
            Ok(tag.id)
        }
        // Created meanwhile by another request: use that one.
        Err(ApiError::Conflict { .. }) => find_tag(state, user, &name)
            .await?
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a conflicting tag vanished"))),
        Err(error) => Err(error),
    }
}

async fn find_tag(state: &AppState, user: &UserId, name: &str) -> Result<Option<Uuid>> {
    let lower = name.to_lowercase();
    let query = ListQuery {
        collection: Collection::Tags,
        user: user.clone(),
        filters: vec![Filter::TextContains {
            fields: &["name"],
            needle: lower.clone(),
        }],
        sort: SortField::Name,
        descending: false,
        after: None,
        limit: 200,
        include_total: false,
    };
    let page = state.store.list(&query).await?;
    Ok(page
        .items
        .iter()
        .find(|tag| {
            tag.body
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|existing| existing.to_lowercase() == lower)
        })
        .map(|tag| tag.id))
}

fn file_stores(state: &AppState) -> FileStores<'_> {
    FileStores {
        metadata: &state.store,
        blobs: &state.blobs,
        locks: &state.file_locks,
        variants: &state.variants,
    }
}

/// Stores one file of the import, linked to the character about to be created.
async fn store_file(
    state: &AppState,
    user: &UserId,
    character_id: Uuid,
    file: PlannedFile,
) -> Result<Uuid> {
    let settings = &state.config.files;
    let filename = sanitize_filename(&file.filename);
    let head = &file.bytes[..file.bytes.len().min(HEAD_LEN)];
    let mime_type = resolve_type(None, head, &filename, &settings.allowed_mime_types)
        .map_err(|problem| ApiError::UnsupportedMediaType(format!("{filename}: {problem}")))?;
    let dimensions = image_dimensions(&mime_type, head);
    let file_id = ids::new_id();
    let key = BlobKey::for_file(user, file.category, file_id, &filename);
    let body = futures_util::stream::once(ready(Ok::<_, Infallible>(Bytes::from(file.bytes))));
    let outcome = state
        .blobs
        .put(&key, body, settings.max_upload_size)
        .await?;
    let record = File {
        category: file.category,
        source: FileSource::Imported,
        description: None,
        tags: Vec::new(),
        linked_to: vec![FileLink {
            kind: LinkKind::Character,
            id: character_id,
        }],
        original_filename: filename,
        mime_type,
        size: outcome.size,
        sha256: outcome.sha256,
        width: dimensions.map(|(width, _)| width),
        height: dimensions.map(|(_, height)| height),
        storage: StorageRef {
            backend: state.blobs.backend().to_owned(),
            key: key.to_string(),
        },
    };
    let pending = PendingBlob::new(state.blobs.current().clone(), key);
    let document = register_file(file_stores(state), user, file_id, record, pending).await?;
    Ok(document.id)
}

/// Removes what a failed import wrote; a failure here is logged (`quillstore gc` finds blobs
/// left without records).
async fn undo(state: &AppState, user: &UserId, written: Written) {
    for id in written.files {
        let delete = async {
            state
                .store
                .delete(Collection::Files, user, id, None)
                .await
                .map_err(ApiError::from)
        };
        if let Err(error) = remove_file(file_stores(state), user, id, delete).await {
            tracing::error!(file_id = %id, error = %error, "cannot remove a file of a failed import");
        }
    }
    let documents = written
        .lorebook
        .map(|id| (Collection::Lorebooks, id))
        .into_iter()
        .chain(written.tags.into_iter().map(|id| (Collection::Tags, id)));
    for (collection, id) in documents {
        if let Err(error) = state.store.delete(collection, user, id, None).await {
            tracing::error!(collection = collection.name(), %id, error = %error, "cannot remove a document of a failed import");
        }
    }
}
