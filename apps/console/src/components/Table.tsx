import { For, type JSX, Show } from 'solid-js'
import { Empty } from './States.tsx'

/** One column of a `Table`: its header and how a row fills its cell. */
export interface Column<T> {
  /** The header's words; empty for a column of buttons or badges. */
  header: JSX.Element
  /** The cell for one row. */
  cell: (row: T) => JSX.Element
  /** Classes of the header and every cell: `num` right-aligns figures, `mono` holds ids. */
  class?: string
  /** A cell's own extra class from its row (a warning colour, say). */
  cellClass?: (row: T) => string | false | null | undefined
}

/**
 * Every list in the console: a header row, one row per item, and the empty state in words when
 * there is none. The table scrolls sideways inside its card, so a 390 px page never widens.
 */
export function Table<T>(props: {
  rows: readonly T[]
  columns: readonly Column<T>[]
  /** What an empty list means and what brings rows here. */
  empty: JSX.Element
  /** The table's name for assistive technology (and for tests). */
  label?: string
  testId?: string
  class?: string
  /** Per-row attributes: classes (`classList`), `data-*` facts. */
  rowProps?: (row: T) => JSX.HTMLAttributes<HTMLTableRowElement> & Record<`data-${string}`, unknown>
}) {
  return (
    <Show when={props.rows.length > 0} fallback={<Empty>{props.empty}</Empty>}>
      <div class="table-scroll">
        <table class={props.class} data-testid={props.testId} aria-label={props.label}>
          <thead>
            <tr>
              <For each={props.columns}>
                {(column) => (
                  <th scope="col" class={column.class}>
                    {column.header}
                  </th>
                )}
              </For>
            </tr>
          </thead>
          <tbody>
            <For each={props.rows}>
              {(row) => (
                <tr {...props.rowProps?.(row)}>
                  <For each={props.columns}>
                    {(column) => (
                      <td
                        class={
                          [column.class, column.cellClass?.(row)].filter(Boolean).join(' ') ||
                          undefined
                        }
                      >
                        {column.cell(row)}
                      </td>
                    )}
                  </For>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </div>
    </Show>
  )
}
