/**
 * The catalogue (`/catalogue/<things>`): a tab per kind over its list, and each entry's page
 * (`/catalogue/<things>/new`, `/catalogue/<things>/:id`).
 */
import { Tabs } from "@mantine/core";
import type { ReactNode } from "react";
import { Navigate, Route, Routes, useLocation, useNavigate } from "react-router";
import { Empty } from "../../components/States";
import { CustomerPage, CustomersPage } from "./customers";
import { HostPage, HostsPage } from "./hosts";
import { ImagePage, ImagesPage } from "./images";
import type { Things } from "./kind";
import { LocationPage, LocationsPage } from "./locations";
import { ProductPage, ProductsPage } from "./products";
import { SubnetPage, SubnetsPage } from "./subnets";

const SCREENS: { things: Things; tab: string; list: ReactNode; page: ReactNode }[] = [
  { things: "locations", tab: "Locations", list: <LocationsPage />, page: <LocationPage /> },
  { things: "subnets", tab: "Subnets", list: <SubnetsPage />, page: <SubnetPage /> },
  { things: "hosts", tab: "Hosts", list: <HostsPage />, page: <HostPage /> },
  { things: "images", tab: "Images", list: <ImagesPage />, page: <ImagePage /> },
  { things: "products", tab: "Products", list: <ProductsPage />, page: <ProductPage /> },
  { things: "customers", tab: "Customers", list: <CustomersPage />, page: <CustomerPage /> },
];

export function CataloguePage() {
  const navigate = useNavigate();
  const current = useLocation().pathname.split("/")[2] ?? null;
  return (
    <>
      <Tabs value={current} onChange={(things) => things && navigate(`/catalogue/${things}`)} mb="md">
        <Tabs.List aria-label="Catalogue">
          {SCREENS.map((s) => (
            <Tabs.Tab key={s.things} value={s.things}>
              {s.tab}
            </Tabs.Tab>
          ))}
        </Tabs.List>
      </Tabs>
      <Routes>
        <Route index element={<Navigate to="locations" replace />} />
        {SCREENS.flatMap((s) => [
          <Route key={s.things} path={s.things} element={s.list} />,
          <Route key={`${s.things}/new`} path={`${s.things}/new`} element={s.page} />,
          <Route key={`${s.things}/:id`} path={`${s.things}/:id`} element={s.page} />,
        ])}
        <Route path="*" element={<Empty>No such page.</Empty>} />
      </Routes>
    </>
  );
}
