// Facts about this build for the About dialog and the log.
#pragma once

#include <QString>

namespace peregrine::ui {

QString peregrineVersion();   // the CMake project version
QString availableBackends();  // "CPU" or "CPU, CUDA"
QString cpuDescription();     // "AMD EPYC 7B13 (16 threads)" from /proc/cpuinfo

}  // namespace peregrine::ui
