// Reads one file's GGUF header into a ModelCandidate. Never throws: a file that cannot be read is
// returned as broken, with the reader's message (which names the field and offset) as the reason.
#pragma once

#include "picker/model_candidate.h"

namespace peregrine::ui {

ModelCandidate probeModel(const QString& path, const QString& displayName, const QString& source);

}  // namespace peregrine::ui
