#include "settings/engine_settings.h"

#include <algorithm>
#include <tuple>

namespace peregrine::ui {
namespace {

// QSettings stores numbers as text in INI files; an unset or unreadable seed means "random".
constexpr qint64 kRandomSeed = -1;

auto reloadFields(const EngineSettings& s) {
    return std::tie(s.backend, s.gpuLayers, s.threads, s.contextLength, s.kvCacheType, s.useMmap, s.maxSequences,
                    s.kvCacheBlocks);
}

auto replyFields(const EngineSettings& s) {
    return std::tie(s.speculative, s.draftModelPath, s.draftTokens, s.structured, s.jsonSchema, s.batchSize, s.maxTokens, s.sampling.temperature, s.sampling.top_k, s.sampling.top_p,
                    s.sampling.min_p, s.sampling.repeat_penalty, s.sampling.repeat_last_n, s.sampling.seed);
}

}  // namespace

LoadOptions EngineSettings::loadOptions() const {
    LoadOptions options;
    options.contextLength = contextLength;
    options.threads = threads;
    options.useMmap = useMmap;
    options.maxSequences = maxSequences;
    options.kvCacheBlocks = kvCacheBlocks;
    return options;
}

GenerationOptions EngineSettings::generationOptions() const {
    GenerationOptions options;
    options.sampling = sampling;
    options.maxTokens = maxTokens;
    options.batchSize = batchSize;
    options.speculation.mode = speculative;
    options.speculation.draftModelPath = draftModelPath;
    options.speculation.draftTokens = draftTokens;
    options.structured = structured;
    options.jsonSchema = jsonSchema;
    return options;
}

bool EngineSettings::needsReload(const EngineSettings& before, const EngineSettings& after) {
    return reloadFields(before) != reloadFields(after);
}

bool EngineSettings::operator==(const EngineSettings& other) const {
    return reloadFields(*this) == reloadFields(other) && replyFields(*this) == replyFields(other);
}

EngineSettings readEngineSettings(const QSettings& settings) {
    const EngineSettings defaults;
    EngineSettings s;
    s.backend = settings.value("engine/backend", defaults.backend).toString();
    s.gpuLayers = settings.value("engine/gpuLayers", defaults.gpuLayers).toInt();
    s.threads = settings.value("engine/threads", defaults.threads).toInt();
    s.contextLength = settings.value("engine/contextLength", defaults.contextLength).toInt();
    s.kvCacheType = settings.value("engine/kvCacheType", defaults.kvCacheType).toString();
    s.useMmap = settings.value("engine/useMmap", defaults.useMmap).toBool();
    s.speculative = static_cast<SpeculativeMode>(
        std::clamp(settings.value("speculative/mode", 0).toInt(), 0, static_cast<int>(SpeculativeMode::DraftModel)));
    s.draftModelPath = settings.value("speculative/draftModel").toString();
    s.draftTokens = std::clamp(settings.value("speculative/draftTokens", defaults.draftTokens).toInt(), 0, 16);
    s.maxSequences = std::clamp(settings.value("engine/maxSequences", defaults.maxSequences).toInt(), 1, 64);
    s.kvCacheBlocks = std::max(0, settings.value("engine/kvCacheBlocks", defaults.kvCacheBlocks).toInt());
    s.structured = static_cast<StructuredOutput>(std::clamp(settings.value("generation/structured", 0).toInt(), 0,
                                                            static_cast<int>(StructuredOutput::JsonSchema)));
    s.jsonSchema = settings.value("generation/jsonSchema").toString();
    s.batchSize = std::max(1, settings.value("engine/batchSize", defaults.batchSize).toInt());
    s.maxTokens = settings.value("generation/maxTokens", defaults.maxTokens).toInt();
    s.sampling.temperature = settings.value("sampling/temperature", defaults.sampling.temperature).toFloat();
    s.sampling.top_k = settings.value("sampling/topK", defaults.sampling.top_k).toInt();
    s.sampling.top_p = settings.value("sampling/topP", defaults.sampling.top_p).toFloat();
    s.sampling.min_p = settings.value("sampling/minP", defaults.sampling.min_p).toFloat();
    s.sampling.repeat_penalty = settings.value("sampling/repeatPenalty", defaults.sampling.repeat_penalty).toFloat();
    s.sampling.repeat_last_n = settings.value("sampling/repeatLastN", defaults.sampling.repeat_last_n).toInt();
    const qint64 seed = settings.value("sampling/seed", kRandomSeed).toLongLong();
    s.sampling.seed = seed < 0 ? kSeedFromOs : static_cast<uint64_t>(seed);
    try {
        validate_sampling_params(s.sampling);
    } catch (const std::exception&) {
        s.sampling = defaults.sampling;  // a hand-edited file must not make every reply fail
    }
    return s;
}

void writeEngineSettings(QSettings& settings, const EngineSettings& s) {
    settings.setValue("engine/backend", s.backend);
    settings.setValue("engine/gpuLayers", s.gpuLayers);
    settings.setValue("engine/threads", s.threads);
    settings.setValue("engine/contextLength", s.contextLength);
    settings.setValue("engine/kvCacheType", s.kvCacheType);
    settings.setValue("engine/useMmap", s.useMmap);
    settings.setValue("speculative/mode", static_cast<int>(s.speculative));
    settings.setValue("speculative/draftModel", s.draftModelPath);
    settings.setValue("speculative/draftTokens", s.draftTokens);
    settings.setValue("engine/maxSequences", s.maxSequences);
    settings.setValue("engine/kvCacheBlocks", s.kvCacheBlocks);
    settings.setValue("generation/structured", static_cast<int>(s.structured));
    settings.setValue("generation/jsonSchema", s.jsonSchema);
    settings.setValue("engine/batchSize", s.batchSize);
    settings.setValue("generation/maxTokens", s.maxTokens);
    settings.setValue("sampling/temperature", s.sampling.temperature);
    settings.setValue("sampling/topK", s.sampling.top_k);
    settings.setValue("sampling/topP", s.sampling.top_p);
    settings.setValue("sampling/minP", s.sampling.min_p);
    settings.setValue("sampling/repeatPenalty", s.sampling.repeat_penalty);
    settings.setValue("sampling/repeatLastN", s.sampling.repeat_last_n);
    settings.setValue("sampling/seed",
                      s.sampling.seed == kSeedFromOs ? kRandomSeed : static_cast<qint64>(s.sampling.seed));
    settings.sync();
}

}  // namespace peregrine::ui
