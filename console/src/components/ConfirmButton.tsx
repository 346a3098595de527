/** A button for a destructive or consequential action: it asks before it acts. */
import { Button, type ButtonProps, Group, Modal, Text } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import type { ReactNode } from "react";

export interface ConfirmButtonProps extends ButtonProps {
  /** The button's label, and the confirm button's. */
  label: string;
  /** What will happen, in the dialog. */
  question: ReactNode;
  onConfirm: () => void;
}

export function ConfirmButton({ label, question, onConfirm, ...button }: ConfirmButtonProps) {
  const [opened, { open, close }] = useDisclosure(false);
  return (
    <>
      <Button {...button} onClick={open}>
        {label}
      </Button>
      <Modal opened={opened} onClose={close} title={`${label}?`} centered>
        <Text size="sm">{question}</Text>
        <Group justify="flex-end" mt="lg">
          <Button variant="default" onClick={close}>
            Keep as is
          </Button>
          <Button
            color={button.color ?? "red"}
            onClick={() => {
              close();
              onConfirm();
            }}
          >
            {label}
          </Button>
        </Group>
      </Modal>
    </>
  );
}
