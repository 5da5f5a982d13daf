// Entry: the catalogue service (`CATALOGUE_VERSION` v1 or v2).
import { catalogue, parseCatalogueVersion } from './apps/catalogue.js';
import { runProcess } from './http/run-process.js';

runProcess((_env, vars) =>
  catalogue({ version: parseCatalogueVersion(vars['CATALOGUE_VERSION']) }),
);
