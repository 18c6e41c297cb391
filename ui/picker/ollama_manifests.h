// Ollama keeps models as content-addressed blobs: manifests/<registry>/<namespace>/<model>/<tag> is a JSON
// image manifest whose layer with mediaType "application/vnd.ollama.image.model" names the GGUF by digest
// ("sha256:<hex>"), stored as blobs/sha256-<hex>. This resolves manifests to those blob paths.
#pragma once

#include <QList>
#include <QString>

namespace peregrine::ui {

struct OllamaModel {
    QString name;      // "llama3:8b"; the namespace is shown unless it is "library"
    QString blobPath;  // the GGUF file
    QString problem;   // non-empty when the manifest is unreadable or its blob is missing
};

// `root` is the models folder (~/.ollama/models). Missing folders give an empty list.
QList<OllamaModel> findOllamaModels(const QString& root);

}  // namespace peregrine::ui
