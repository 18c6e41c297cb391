// A temporary folder tree laid out like a real machine's model folders (Peregrine's own, llama.cpp's
// cache, LM Studio, Ollama's manifests and blobs, a user folder), built from symlinks to the shared test
// models plus a few files written here: a truncated GGUF, a GGUF written with GgufWriter, non-GGUF files.
#pragma once

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>

#include "peregrine/gguf.h"
#include "support/test_paths.h"

namespace peregrine::test {

class ModelTree {
public:
    ModelTree() {
        mkdir(appModels());
        mkdir(userFolder());
        link("stories260K-q8_0.gguf", appModels() + "/stories.gguf");
        write(appModels() + "/notes.txt", "not a model");
        write(appModels() + "/model.bin", "GGUF? no, just bytes");
        truncatedCopy("stories260K-f32.gguf", appModels() + "/broken.gguf", 200000);
        link("stories260K-q4_0.gguf", home() + "/.lmstudio/models/publisher/repo/model-q4.gguf");
        link("llama-2-tiny-random.gguf", home() + "/.cache/llama.cpp/tiny-random.gguf");
        // The same file again through another folder: listed once.
        link("stories260K-q8_0.gguf", home() + "/.cache/llama.cpp/same-as-stories.gguf");
        writeSmallGguf(userFolder() + "/handmade.gguf");
        // Ollama: a manifest naming a blob by digest, and one whose blob is gone.
        ollamaDigest_ = QString(QCryptographicHash::hash("stories", QCryptographicHash::Sha256).toHex());
        link("stories260K-f16.gguf", ollama() + "/blobs/sha256-" + ollamaDigest_);
        writeManifest("library/stories/latest", ollamaDigest_);
        writeManifest("someone/ghost/7b", QString(64, 'a'));
    }

    QString root() const { return dir_.path(); }
    QString home() const { return dir_.path() + "/home"; }
    QString appModels() const { return dir_.path() + "/data/peregrine/models"; }
    QString userFolder() const { return dir_.path() + "/my models"; }
    QString ollama() const { return home() + "/.ollama/models"; }
    QString ollamaBlob() const { return ollama() + "/blobs/sha256-" + ollamaDigest_; }

private:
    static void mkdir(const QString& path) { QDir().mkpath(path); }

    static void link(const std::string& sharedModel, const QString& at) {
        mkdir(QFileInfo(at).absolutePath());
        QFile::link(QString::fromStdString(model_path(sharedModel)), at);
    }

    static void write(const QString& path, const QByteArray& bytes) {
        mkdir(QFileInfo(path).absolutePath());
        QFile file(path);
        if (file.open(QIODevice::WriteOnly)) file.write(bytes);
    }

    static void truncatedCopy(const std::string& sharedModel, const QString& at, qint64 bytes) {
        QFile source(QString::fromStdString(model_path(sharedModel)));
        if (source.open(QIODevice::ReadOnly)) write(at, source.read(bytes));
    }

    // Shapes chosen so every derived number is easy to check: 2 layers, 4 heads of 16, 2 KV heads.
    static void writeSmallGguf(const QString& path) {
        gguf::GgufWriter writer;
        writer.set_string("general.architecture", "llama");
        writer.set_string("general.name", "Handmade");
        writer.set_uint32("llama.context_length", 4096);
        writer.set_uint32("llama.block_count", 2);
        writer.set_uint32("llama.embedding_length", 64);
        writer.set_uint32("llama.attention.head_count", 4);
        writer.set_uint32("llama.attention.head_count_kv", 2);
        writer.set_string("tokenizer.chat_template",
                          "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}");
        const std::vector<uint8_t> data(64 * 2 * sizeof(float), 0);
        writer.add_tensor("token_embd.weight", TensorType::F32, {64, 2}, data);
        mkdir(QFileInfo(path).absolutePath());
        writer.write(path.toStdString());
    }

    void writeManifest(const QString& name, const QString& digest) {
        const QJsonObject manifest{
            {"schemaVersion", 2},
            {"layers", QJsonArray{QJsonObject{{"mediaType", "application/vnd.ollama.image.license"},
                                              {"digest", "sha256:" + QString(64, 'b')}},
                                  QJsonObject{{"mediaType", "application/vnd.ollama.image.model"},
                                              {"digest", "sha256:" + digest}}}}};
        write(ollama() + "/manifests/registry.ollama.ai/" + name, QJsonDocument(manifest).toJson());
    }

    QTemporaryDir dir_;
    QString ollamaDigest_;
};

}  // namespace peregrine::test
