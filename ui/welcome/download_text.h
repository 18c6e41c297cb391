// Words for a download's progress and failures, shared by the welcome page's rows.
#pragma once

#include <QString>

#include "peregrine/download.h"

namespace peregrine::ui {

// "12.3 MiB of 940 MiB · 5.2 MiB/s · about 3 min left"; rate and time are left out while unknown.
QString downloadProgressText(const DownloadProgress& progress);
QString durationText(double seconds);  // "45 s", "3 min", "1 h 20 min"
// A sentence saying what went wrong and what Retry will do, followed by the downloader's own message.
QString downloadFailureText(DownloadError::Kind kind, const QString& message);

}  // namespace peregrine::ui
