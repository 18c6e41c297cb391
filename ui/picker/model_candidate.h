// One model file found by the picker's scan, with what its GGUF header says. Filled from headers and
// metadata only (no weights are read), so scanning a folder of 40 GB models takes milliseconds per file.
#pragma once

#include <QMetaType>
#include <QString>

namespace peregrine::ui {

struct ModelCandidate {
    QString path;          // the GGUF file (for Ollama: the blob)
    QString displayName;   // file name without ".gguf", or "llama3:8b" for Ollama
    QString source;        // "Peregrine", "llama.cpp", "LM Studio", "GPT4All", "Ollama", "Added folder"
    bool broken = false;
    QString problem;       // why it is broken, as the reader said it

    QString architecture;
    QString name;          // general.name
    QString quantization;  // the type holding most of the weight bytes ("Q8_0", "Q4_K", "F16")
    QString templateFamily;  // "chatml", "llama3"... "none" without a template
    qint64 fileSize = 0;
    qint64 parameterCount = 0;
    qint64 weightBytes = 0;
    int contextLength = 0;   // training context
    int layers = 0;
    int kvHeads = 0;
    int headDim = 0;

    // f16 K and V for one position across all layers (what the engine allocates per context token).
    qint64 kvBytesPerToken() const { return 2LL * layers * kvHeads * headDim * 2; }
};

}  // namespace peregrine::ui

Q_DECLARE_METATYPE(peregrine::ui::ModelCandidate)
