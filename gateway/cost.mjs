// A cost limit on lists, checked once per client operation while it is validated.
//
// Hive's own demandControl is not used: in 2.15 it counts a list only when the field's type is
// a nullable list (it does not look through NonNull), and Strawberry types every list field
// `[T!]!`, so no list of ours would ever be counted; it also sums per subgraph request in one
// context, so a subscription's events would add up until the subscription is refused.
//
// The cost of a selection is, for each field, the number of items it may return times (1 for
// an object, 0 for a scalar, plus the cost of its own selection). A list field may return its
// `first` argument's value when given as a literal, else `listSize` items per list level
// (a subgraph caps a page at `listSize`).
import { GraphQLError, Kind, getNamedType, isCompositeType, isListType, isNonNullType } from 'graphql';

const PAGE_ARGUMENT = 'first';

function listLevels(type) {
  let levels = 0;
  for (let t = type; t; t = t.ofType) {
    if (isListType(t)) levels += 1;
    else if (!isNonNullType(t)) break;
  }
  return levels;
}

// Only a literal counts: validation results are cached per document, whatever the variables.
// Without one, a list the schema's owners sized ("Type.field" in limits.json's list_sizes: an
// EVSE's connectors are few, a page of stations is capped) counts that many items.
function pageSize(node, listSize, known) {
  const value = node.arguments?.find((a) => a.name.value === PAGE_ARGUMENT)?.value;
  return value?.kind === Kind.INT ? Number(value.value) : (known ?? listSize);
}

let listSizes = {};

function selectionCost(schema, parentType, selectionSet, fragments, listSize, visiting) {
  let cost = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      const field = parentType?.getFields?.()[selection.name.value];
      if (!field) continue;
      const levels = listLevels(field.type);
      const known = listSizes[`${parentType.name}.${selection.name.value}`];
      const items = levels === 0 ? 1 : pageSize(selection, listSize, known) * listSize ** (levels - 1);
      const named = getNamedType(field.type);
      const inner = selection.selectionSet
        ? selectionCost(schema, named, selection.selectionSet, fragments, listSize, visiting)
        : 0;
      cost += items * ((isCompositeType(named) ? 1 : 0) + inner);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parentType;
      cost += selectionCost(schema, type, selection.selectionSet, fragments, listSize, visiting);
    } else if (selection.kind === Kind.FRAGMENT_SPREAD) {
      const name = selection.name.value;
      const fragment = fragments.get(name);
      if (!fragment || visiting.has(name)) continue;
      const type = schema.getType(fragment.typeCondition.name.value);
      cost += selectionCost(schema, type, fragment.selectionSet, fragments, listSize, new Set([...visiting, name]));
    }
  }
  return cost;
}

export function operationCost(schema, document, { listSize }) {
  const fragments = new Map();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  let cost = 0;
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    const root = schema.getRootType(definition.operation);
    cost = Math.max(cost, selectionCost(schema, root, definition.selectionSet, fragments, listSize, new Set()));
  }
  return cost;
}

export function useListCostLimit({ listSize, maxCost, sizes = {} }) {
  listSizes = sizes;
  return {
    onValidate({ addValidationRule }) {
      addValidationRule((context) => ({
        Document: {
          leave(document) {
            const estimated = operationCost(context.getSchema(), document, { listSize });
            if (estimated > maxCost) {
              context.reportError(
                new GraphQLError(`Operation estimated cost ${estimated} exceeds the maximum ${maxCost}`, {
                  extensions: { code: 'COST_ESTIMATED_TOO_EXPENSIVE', cost: { estimated, max: maxCost } },
                }),
              );
            }
          },
        },
      }));
    },
  };
}
