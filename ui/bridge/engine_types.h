// Value types that cross the thread boundary between the GUI and the EngineWorker. Everything is
// copied through queued signals; nothing here points into the engine.
#pragma once

#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>

#include <cstdint>

#include "peregrine/sampling.h"
#include "store/chat_records.h"

namespace peregrine::ui {

// How to load a model and size its context (the "needs a reload" half of the settings).
struct LoadOptions {
    int contextLength = 0;   // 0: the model's training context
    int threads = 0;         // 0: all cores
    bool useMmap = true;
    bool prefetchWeights = true;  // read every weight page once, with progress, before the first reply
    int maxSequences = 4;    // sequences the engine decodes together (conversations, alternatives)
    int kvCacheBlocks = 0;   // KV block pool size; 0: room for maxSequences full-length sequences
};

struct LoadRequest {
    quint64 id = 0;
    QString path;
    LoadOptions options;
};

// What the UI shows about the loaded model.
struct ModelSummary {
    QString path;
    QString fileName;
    QString name;          // general.name, or the file name
    QString architecture;
    QString fileType;      // "Q8_0", "Q4_K_M"...
    QString templateFamily;
    qint64 parameterCount = 0;
    qint64 weightBytes = 0;
    qint64 kvCacheBytes = 0;  // at the context actually allocated
    int contextLength = 0;
    int trainingContextLength = 0;
    int threads = 0;
    int maxSequences = 0;
    int kvBlockSize = 0;      // positions per KV block
    int kvBlocksTotal = 0;
    double loadMs = 0;
};

struct ChatTurn {
    QString role;     // "system", "user", "assistant"
    QString content;
};

enum class SpeculativeMode { Off, PromptLookup, DraftModel };

// Speculative decoding for a reply. On, the reply runs through generate_speculative on the engine worker
// (one such reply at a time) instead of the batched Engine.
struct SpeculationOptions {
    SpeculativeMode mode = SpeculativeMode::Off;
    QString draftModelPath;  // DraftModel only: a smaller model with the same vocabulary
    int draftTokens = 4;     // guesses verified per pass; 0: chosen per pass from the acceptance rate

    bool isOn() const { return mode != SpeculativeMode::Off; }
};

// Constrains replies to JSON (the engine's grammar): any JSON object, or what a JSON schema allows.
enum class StructuredOutput { Off, AnyJsonObject, JsonSchema };

// How to generate (the "applies to the next reply" half of the settings).
struct GenerationOptions {
    SamplingParams sampling;
    int maxTokens = -1;   // -1: until the model ends its turn or the context is full
    int batchSize = 512;  // prompt tokens per forward pass
    SpeculationOptions speculation;
    StructuredOutput structured = StructuredOutput::Off;
    QString jsonSchema;   // JsonSchema only
};

struct GenerationRequest {
    quint64 id = 0;
    QList<ChatTurn> messages;
    GenerationOptions options;
    int alternatives = 1;  // replies sampled together in one batch (they share the prompt's KV blocks)
};

// Numbers for the live stats bar, sampled with each batch of streamed text.
struct LiveStats {
    int promptTokens = 0;
    int cachedPromptTokens = 0;  // of those, served by the prefix cache (not computed again)
    int generatedTokens = 0;   // text pieces so far (one per token that produced text)
    double timeToFirstTokenMs = 0;
    double prefillTokensPerSecond = 0;
    double decodeTokensPerSecond = 0;  // over the reply so far
    int contextUsed = 0;
    int contextLength = 0;
    int kvBlocksUsed = 0;
    int kvBlocksTotal = 0;
    qint64 kvBytesTotal = 0;
    int droppedMessages = 0;   // oldest turns left out so the conversation fits the context
    double acceptanceRate = -1;  // speculative replies: guesses kept / guesses verified; -1: not speculative
};

// The engine as a whole, sampled a few times a second while it works (the stats bar's aggregate fields).
struct EngineSnapshot {
    int running = 0;             // requests decoding now
    int waiting = 0;             // requests queued for a free sequence or KV blocks
    double tokensPerSecond = 0;  // generated tokens per second over all requests (last second)
    int kvBlocksUsed = 0;
    int kvBlocksTotal = 0;
    int kvBlocksCached = 0;      // free blocks still holding a reusable prefix
    double prefixHitRate = 0;    // prompt tokens served by the prefix cache / prompt tokens offered
    bool speculating = false;    // a speculative reply is running now
    double acceptanceRate = -1;  // of the last speculative reply; -1: none yet

    bool operator==(const EngineSnapshot&) const = default;
};

struct StreamChunk {
    quint64 requestId = 0;
    QString text;          // new text since the previous chunk (complete UTF-8)
    LiveStats stats;
};

struct GenerationOutcome {
    quint64 requestId = 0;
    QString text;          // the whole reply (kept when stopped or failed); alternatives[0] when several
    QStringList alternatives;  // every sampled reply when more than one was asked for
    MessageStats stats;    // exact numbers from the engine
    LiveStats live;        // the last live sample (context fill, KV)
    bool cancelled = false;
    QString error;         // empty on success
};

}  // namespace peregrine::ui

Q_DECLARE_METATYPE(peregrine::ui::LoadRequest)
Q_DECLARE_METATYPE(peregrine::ui::ModelSummary)
Q_DECLARE_METATYPE(peregrine::ui::GenerationRequest)
Q_DECLARE_METATYPE(peregrine::ui::StreamChunk)
Q_DECLARE_METATYPE(peregrine::ui::LiveStats)
Q_DECLARE_METATYPE(peregrine::ui::EngineSnapshot)
Q_DECLARE_METATYPE(peregrine::ui::GenerationOutcome)
