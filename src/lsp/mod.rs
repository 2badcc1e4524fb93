//! `portc lsp`: the Language Server Protocol over a connection (standard input and output for an
//! editor), with `lsp-server`'s synchronous loop and no async runtime.
//!
//! Every document is analysed as the root of its own program (`analysis::analyze`), from the
//! open documents' unsaved text first and the files second. Diagnostics are published on open and
//! on change; every request is answered, with an error that says why when there is nothing to
//! give, and a panic in a handler becomes an error answer instead of ending the server.

mod complete;
mod diagnostics;
mod edit;
mod hover;
mod lookup;
mod navigate;
mod preview;
mod symbols;
pub mod text;
mod world;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response, ResponseError};
use lsp_types::{
    CodeActionParams, CompletionParams, CompletionResponse, DidChangeTextDocumentParams, DidCloseTextDocumentParams,
    DidOpenTextDocumentParams, DocumentFormattingParams, DocumentSymbolParams, DocumentSymbolResponse,
    GotoDefinitionParams, GotoDefinitionResponse, Hover, HoverContents, HoverParams, InitializeParams, MarkupContent,
    MarkupKind, PositionEncodingKind, PrepareRenameResponse, PublishDiagnosticsParams, ReferenceParams, RenameParams,
    TextDocumentPositionParams, Uri,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use text::{Encoding, Lines};
pub use world::Host;
use world::{Document, World};

/// Serves one client until it says `exit`. `Err` is a broken connection or protocol.
pub fn serve(connection: Connection, host: Host) -> Result<(), String> {
    let (id, params) = connection.initialize_start().map_err(|e| e.to_string())?;
    let init: InitializeParams = serde_json::from_value(params).unwrap_or_default();
    let encoding = encoding(&init);
    let result = serde_json::json!({
        "capabilities": capabilities(encoding),
        "serverInfo": { "name": "portc", "version": env!("CARGO_PKG_VERSION") },
    });
    connection.initialize_finish(id, result).map_err(|e| e.to_string())?;
    let mut server = Server { world: World::new(host, encoding, folders(&init)), connection, uses: BTreeMap::new() };
    server.run()
}

/// UTF-8 positions when the client offers them, else the protocol's default, UTF-16.
fn encoding(init: &InitializeParams) -> Encoding {
    let offered = init.capabilities.general.as_ref().and_then(|g| g.position_encodings.as_ref());
    if offered.is_some_and(|kinds| kinds.contains(&PositionEncodingKind::UTF8)) {
        Encoding::Utf8
    } else {
        Encoding::Utf16
    }
}

#[allow(deprecated)] // `root_uri` is how clients before workspace folders name the workspace.
fn folders(init: &InitializeParams) -> Vec<String> {
    let mut out: Vec<String> = init.workspace_folders.iter().flatten().map(|f| text::key_of(&f.uri)).collect();
    if out.is_empty()
        && let Some(root) = &init.root_uri
    {
        out.push(text::key_of(root));
    }
    out.retain(|f| f.starts_with('/'));
    out
}

fn capabilities(encoding: Encoding) -> Value {
    let position = match encoding {
        Encoding::Utf8 => "utf-8",
        Encoding::Utf16 => "utf-16",
    };
    serde_json::json!({
        "positionEncoding": position,
        // Whole documents: `.ports` files are small, and a whole text cannot drift.
        "textDocumentSync": { "openClose": true, "change": 1 },
        "hoverProvider": true,
        "definitionProvider": true,
        "referencesProvider": true,
        "renameProvider": { "prepareProvider": true },
        "completionProvider": { "triggerCharacters": [".", "[", "=", ">", "|", ":"] },
        "documentSymbolProvider": true,
        "documentFormattingProvider": true,
        "codeActionProvider": { "codeActionKinds": ["quickfix"] },
    })
}

struct Server {
    world: World,
    connection: Connection,
    /// Per open document: the files its program read at its last analysis, so that a change to
    /// one of them publishes its diagnostics again.
    uses: BTreeMap<String, BTreeSet<String>>,
}

type Answer = Result<Value, ResponseError>;

fn failed(message: impl Into<String>) -> ResponseError {
    ResponseError { code: ErrorCode::RequestFailed as i32, message: message.into(), data: None }
}

impl Server {
    fn run(&mut self) -> Result<(), String> {
        let mut pending: VecDeque<Message> = VecDeque::new();
        loop {
            let message = match pending.pop_front() {
                Some(message) => message,
                None => match self.connection.receiver.recv() {
                    Ok(message) => message,
                    Err(_) => return Ok(()),
                },
            };
            match message {
                Message::Request(request) => {
                    if self.connection.handle_shutdown(&request).map_err(|e| e.to_string())? {
                        return Ok(());
                    }
                    self.request(request);
                }
                Message::Notification(notification) if notification.method == "textDocument/didChange" => {
                    let mut changed = BTreeSet::new();
                    changed.extend(self.did_change(notification.params));
                    // Typing sends a change per keystroke: apply those already queued before
                    // analysing, and answer for the last text only.
                    while let Ok(next) = self.connection.receiver.try_recv() {
                        match next {
                            Message::Notification(n) if n.method == "textDocument/didChange" => {
                                changed.extend(self.did_change(n.params));
                            }
                            other => {
                                pending.push_back(other);
                                break;
                            }
                        }
                    }
                    for key in changed {
                        self.publish_after_change(&key);
                    }
                }
                Message::Notification(notification) => self.notification(notification),
                Message::Response(_) => {}
            }
        }
    }

    fn notification(&mut self, notification: Notification) {
        match notification.method.as_str() {
            "textDocument/didOpen" => {
                let Ok(params) = serde_json::from_value::<DidOpenTextDocumentParams>(notification.params) else {
                    return;
                };
                let document = params.text_document;
                let key = World::key(&document.uri);
                self.world.documents.insert(key.clone(), Document { text: document.text, version: document.version });
                self.world.changed();
                self.publish_after_change(&key);
            }
            "textDocument/didClose" => {
                let Ok(params) = serde_json::from_value::<DidCloseTextDocumentParams>(notification.params) else {
                    return;
                };
                let key = World::key(&params.text_document.uri);
                self.world.documents.remove(&key);
                self.uses.remove(&key);
                self.world.changed();
                self.send_diagnostics(params.text_document.uri, Vec::new(), None);
            }
            _ => {}
        }
    }

    /// Applies a change; the key of the document it changed.
    fn did_change(&mut self, params: Value) -> Option<String> {
        let params = serde_json::from_value::<DidChangeTextDocumentParams>(params).ok()?;
        let key = World::key(&params.text_document.uri);
        let encoding = self.world.encoding;
        let document = self.world.documents.get_mut(&key)?;
        for change in params.content_changes {
            match change.range {
                None => document.text = change.text,
                Some(range) => {
                    let lines = Lines::new(&document.text, encoding);
                    let (start, end) = (lines.offset(range.start) as usize, lines.offset(range.end) as usize);
                    if start <= end && end <= document.text.len() {
                        document.text.replace_range(start..end, &change.text);
                    }
                }
            }
        }
        document.version = params.text_document.version;
        self.world.changed();
        Some(key)
    }

    /// Publishes the diagnostics of a changed document, then of every open document whose
    /// program read it.
    fn publish_after_change(&mut self, key: &str) {
        self.publish(key);
        let dependents: Vec<String> = self
            .uses
            .iter()
            .filter(|(k, files)| k.as_str() != key && files.contains(key))
            .map(|(k, _)| k.clone())
            .collect();
        for dependent in dependents {
            self.publish(&dependent);
        }
    }

    fn publish(&mut self, key: &str) {
        let Some(uri) = text::uri_of(key) else { return };
        let version = self.world.documents.get(key).map(|d| d.version);
        let diagnostics = match self.world.analysis(key) {
            Some(analysis) => {
                let files = analysis.modules.iter().map(|m| m.path.clone()).collect();
                self.uses.insert(key.to_string(), files);
                let world = &self.world;
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| diagnostics::of_root(world, &analysis)))
                    .unwrap_or_default()
            }
            None => Vec::new(),
        };
        self.send_diagnostics(uri, diagnostics, version);
    }

    fn send_diagnostics(&self, uri: Uri, diagnostics: Vec<lsp_types::Diagnostic>, version: Option<i32>) {
        let params = PublishDiagnosticsParams { uri, diagnostics, version };
        let notification = Notification::new("textDocument/publishDiagnostics".to_string(), params);
        let _ = self.connection.sender.send(Message::Notification(notification));
    }

    fn request(&mut self, request: Request) {
        let Request { id, method, params } = request;
        let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.answer(&method, params)))
            .unwrap_or_else(|_| {
                Err(ResponseError {
                    code: ErrorCode::InternalError as i32,
                    message: format!("a bug in portc: {method} panicked; please report it with the file"),
                    data: None,
                })
            });
        self.respond(id, answer);
    }

    fn respond(&self, id: RequestId, answer: Answer) {
        let _ = self.connection.sender.send(Message::Response(Response { id, response_result: answer }));
    }

    fn answer(&mut self, method: &str, params: Value) -> Answer {
        match method {
            "textDocument/hover" => self.with(params, Self::hover),
            "textDocument/definition" => self.with(params, Self::definition),
            "textDocument/references" => self.with(params, Self::references),
            "textDocument/prepareRename" => self.with(params, Self::prepare_rename),
            "textDocument/rename" => self.with(params, Self::rename),
            "textDocument/completion" => self.with(params, Self::completion),
            "textDocument/documentSymbol" => self.with(params, Self::symbols),
            "textDocument/formatting" => self.with(params, Self::formatting),
            "textDocument/codeAction" => self.with(params, Self::code_action),
            _ => Err(ResponseError {
                code: ErrorCode::MethodNotFound as i32,
                message: format!("portc does not answer {method}"),
                data: None,
            }),
        }
    }

    fn with<P: DeserializeOwned, R: Serialize>(
        &mut self,
        params: Value,
        handler: fn(&mut Self, P) -> Result<R, ResponseError>,
    ) -> Answer {
        let params = serde_json::from_value::<P>(params).map_err(|e| ResponseError {
            code: ErrorCode::InvalidParams as i32,
            message: e.to_string(),
            data: None,
        })?;
        let result = handler(self, params)?;
        serde_json::to_value(result).map_err(|e| failed(e.to_string()))
    }

    /// The analysis of a document and the byte offset of a position in it.
    fn at(
        &mut self,
        position: &TextDocumentPositionParams,
    ) -> Result<(std::rc::Rc<crate::analysis::Analysis>, u32), ResponseError> {
        let key = World::key(&position.text_document.uri);
        let analysis = self.world.analysis(&key).ok_or_else(|| failed(format!("cannot read `{key}`")))?;
        let root = analysis.modules.first().ok_or_else(|| failed("an empty program"))?;
        let offset = Lines::new(analysis.sources.text(root.file), self.world.encoding).offset(position.position);
        Ok((analysis, offset))
    }

    fn hover(&mut self, params: HoverParams) -> Result<Option<Hover>, ResponseError> {
        let (analysis, offset) = self.at(&params.text_document_position_params)?;
        let Some((markdown, span)) = hover::hover(&analysis, offset) else { return Ok(None) };
        let lines = Lines::new(analysis.sources.text(span.file), self.world.encoding);
        Ok(Some(Hover {
            contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: markdown }),
            range: Some(lines.range(span.start, span.end)),
        }))
    }

    fn definition(&mut self, params: GotoDefinitionParams) -> Result<Option<GotoDefinitionResponse>, ResponseError> {
        let (analysis, offset) = self.at(&params.text_document_position_params)?;
        Ok(navigate::definition(&self.world, &analysis, offset).map(GotoDefinitionResponse::Scalar))
    }

    fn references(&mut self, params: ReferenceParams) -> Result<Vec<lsp_types::Location>, ResponseError> {
        let (_, offset) = self.at(&params.text_document_position)?;
        let key = World::key(&params.text_document_position.text_document.uri);
        Ok(navigate::references(&mut self.world, &key, offset, params.context.include_declaration))
    }

    fn prepare_rename(&mut self, params: TextDocumentPositionParams) -> Result<PrepareRenameResponse, ResponseError> {
        let (analysis, offset) = self.at(&params)?;
        let (span, placeholder) = navigate::prepare(&analysis, offset).map_err(failed)?;
        let lines = Lines::new(analysis.sources.text(span.file), self.world.encoding);
        Ok(PrepareRenameResponse::RangeWithPlaceholder { range: lines.range(span.start, span.end), placeholder })
    }

    fn rename(&mut self, params: RenameParams) -> Result<lsp_types::WorkspaceEdit, ResponseError> {
        let (_, offset) = self.at(&params.text_document_position)?;
        let key = World::key(&params.text_document_position.text_document.uri);
        navigate::rename(&mut self.world, &key, offset, &params.new_name).map_err(failed)
    }

    fn completion(&mut self, params: CompletionParams) -> Result<CompletionResponse, ResponseError> {
        let (analysis, offset) = self.at(&params.text_document_position)?;
        let root = analysis.modules.first().ok_or_else(|| failed("an empty program"))?;
        let lines = Lines::new(analysis.sources.text(root.file), self.world.encoding);
        Ok(CompletionResponse::Array(complete::complete(&analysis, &lines, offset)))
    }

    fn symbols(&mut self, params: DocumentSymbolParams) -> Result<DocumentSymbolResponse, ResponseError> {
        let key = World::key(&params.text_document.uri);
        let analysis = self.world.analysis(&key).ok_or_else(|| failed(format!("cannot read `{key}`")))?;
        let root = analysis.modules.first().ok_or_else(|| failed("an empty program"))?;
        let lines = Lines::new(analysis.sources.text(root.file), self.world.encoding);
        Ok(DocumentSymbolResponse::Nested(symbols::symbols(&analysis, &lines)))
    }

    fn formatting(&mut self, params: DocumentFormattingParams) -> Result<Vec<lsp_types::TextEdit>, ResponseError> {
        let key = World::key(&params.text_document.uri);
        if let Some(module) = self.world.stdlib_module(&key) {
            return Err(failed(format!("`{}` is a stdlib module, served read-only", module.name)));
        }
        let text = match self.world.documents.get(&key) {
            Some(document) => document.text.clone(),
            None => return Err(failed(format!("`{key}` is not open"))),
        };
        edit::format(&Lines::new(&text, self.world.encoding)).map_err(failed)
    }

    fn code_action(&mut self, params: CodeActionParams) -> Result<Vec<lsp_types::CodeActionOrCommand>, ResponseError> {
        let key = World::key(&params.text_document.uri);
        let analysis = self.world.analysis(&key).ok_or_else(|| failed(format!("cannot read `{key}`")))?;
        let root = analysis.modules.first().ok_or_else(|| failed("an empty program"))?;
        let lines = Lines::new(analysis.sources.text(root.file), self.world.encoding);
        Ok(edit::actions(&self.world, &analysis, &params.text_document.uri, &lines, params.range))
    }
}
