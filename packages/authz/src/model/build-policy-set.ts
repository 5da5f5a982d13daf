import type { DefaultAction, Policy, PolicyDocument, PolicySet, Role } from './policy.js';

/**
 * Builds the evaluator's policy set from validated AuthorizationPolicy documents: the mesh
 * settings document gives `defaultAction` (ALLOW, as in Istio, when none sets it) and roles; every
 * other document is a policy, kept in name order so that decisions are deterministic.
 */
export function buildPolicySet(documents: readonly PolicyDocument[]): PolicySet {
  let defaultAction: DefaultAction = 'ALLOW';
  const roles = new Map<string, Role>();
  const policies: Policy[] = [];
  for (const doc of documents) {
    if (doc.defaultAction !== undefined) defaultAction = doc.defaultAction;
    for (const role of doc.roles) roles.set(role.name, role);
    // The settings document (defaultAction, roles, jwtIssuers) takes no part in matching.
    if (
      doc.defaultAction !== undefined ||
      doc.roles.length > 0 ||
      (doc.jwtIssuers ?? []).length > 0
    )
      continue;
    policies.push({
      name: doc.metadata.name,
      ...(doc.selector !== undefined && { selector: doc.selector }),
      action: doc.action,
      rules: doc.rules,
      dryRun: doc.dryRun,
      external: doc.external === true,
    });
  }
  policies.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { defaultAction, roles, policies };
}
