#include "picker/model_probe.h"

#include <QFileInfo>
#include <QObject>

#include <map>

#include "peregrine/chat_template.h"
#include "peregrine/gguf.h"

namespace peregrine::ui {
namespace {

QString toQString(std::string_view text) { return QString::fromUtf8(text.data(), static_cast<qsizetype>(text.size())); }

// The tensor type that holds most of the weight bytes: what users call the model's quantization.
QString dominantType(const gguf::GgufFile& file) {
    std::map<TensorType, uint64_t> bytes;
    for (const gguf::TensorInfo& tensor : file.tensors()) bytes[tensor.type] += tensor.n_bytes;
    TensorType best = TensorType::F32;
    uint64_t most = 0;
    for (const auto& [type, n] : bytes) {
        if (n > most) {
            most = n;
            best = type;
        }
    }
    return most == 0 ? QStringLiteral("?") : toQString(tensor_type_name(best)).toUpper();
}

void readShape(const gguf::GgufFile& file, ModelCandidate& model) {
    const std::string arch = model.architecture.toStdString();
    const auto key = [&](const char* suffix) { return arch + "." + suffix; };
    model.contextLength = static_cast<int>(file.get_int_or(key("context_length"), 0));
    model.layers = static_cast<int>(file.get_int_or(key("block_count"), 0));
    const int64_t heads = file.get_int_or(key("attention.head_count"), 0);
    model.kvHeads = static_cast<int>(file.get_int_or(key("attention.head_count_kv"), heads));
    const int64_t embd = file.get_int_or(key("embedding_length"), 0);
    model.headDim = static_cast<int>(file.get_int_or(key("attention.key_length"), heads > 0 ? embd / heads : 0));
}

}  // namespace

ModelCandidate probeModel(const QString& path, const QString& displayName, const QString& source) {
    ModelCandidate model;
    model.path = path;
    model.displayName = displayName;
    model.source = source;
    model.fileSize = QFileInfo(path).size();
    try {
        const auto file = gguf::GgufFile::open(path.toStdString());
        model.architecture = QString::fromStdString(file->get_string_or("general.architecture", "?"));
        model.name = QString::fromStdString(file->get_string_or("general.name", ""));
        for (const gguf::TensorInfo& tensor : file->tensors()) {
            model.parameterCount += tensor.n_elements;
            model.weightBytes += static_cast<qint64>(tensor.n_bytes);
        }
        model.quantization = dominantType(*file);
        const std::string chatTemplate = file->get_string_or("tokenizer.chat_template", "");
        model.templateFamily = chatTemplate.empty()
                                   ? QStringLiteral("none")
                                   : toQString(chat_template_family_name(detect_chat_template_family(chatTemplate)));
        readShape(*file, model);
        if (file->tensors().empty()) {
            model.broken = true;
            model.problem = QObject::tr("no tensors: a vocabulary-only file, not a model");
        }
    } catch (const std::exception& error) {
        model.broken = true;
        model.problem = QString::fromUtf8(error.what());
    }
    return model;
}

}  // namespace peregrine::ui
