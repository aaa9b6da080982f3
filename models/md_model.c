/*
 * md_model: the table of models and GSL's error handler.
 */
#include "models/md_model.h"

#include <string.h>

#include <gsl/gsl_errno.h>

#include "models/md_events.h"
#include "models/md_fuel.h"
#include "models/md_hockey.h"
#include "models/md_pressure.h"

const md_model_def_t *const md_models[] = {&md_fuel_def, &md_pressure_def, &md_events_def,
                                            &md_hockey_def};
const size_t md_model_count = sizeof md_models / sizeof md_models[0];

const md_model_def_t *md_model_find(const char *name)
{
    for (size_t i = 0; i < md_model_count; i++)
        if (!strcmp(md_models[i]->name, name))
            return md_models[i];
    return NULL;
}

void md_gsl_init(void)
{
    gsl_set_error_handler_off();
}
