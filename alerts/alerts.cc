#include "alerts/alerts.h"
