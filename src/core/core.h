// Facade of the core component: everything else in Mint may include this.
#pragma once

#include "core/clock.h"
#include "core/cpu.h"
#include "core/dtype.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/status.h"
#include "core/thread_pool.h"
